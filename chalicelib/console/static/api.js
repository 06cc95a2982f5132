// The JSON API with the signed-in token: Authorization header only (never a URL, never a cookie).
const KEY = "imbill.token";

export const session = {
  token: () => sessionStorage.getItem(KEY),
  set: (token) => sessionStorage.setItem(KEY, token),
  clear: () => sessionStorage.removeItem(KEY),
};

// The token's claims, for choosing pages only: the API decides what the caller may see.
export function claims() {
  const token = session.token();
  if (!token) return null;
  try {
    const body = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const c = JSON.parse(atob(body + "=".repeat((4 - (body.length % 4)) % 4)));
    return typeof c === "object" && c ? c : null;
  } catch {
    return null;
  }
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  // The error in words, as the page shows it.
  get words() {
    return `${this.message} (${this.code}, HTTP ${this.status})`;
  }
}

function key() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function call(method, path, body) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${session.token() || ""}` };
  const init = { method, headers, credentials: "omit", cache: "no-store", redirect: "error" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method === "POST") headers["Idempotency-Key"] = key();
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "network_error", `the service did not answer: ${err.message}`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(response.status, e.code || "error", e.message || response.statusText || "request failed");
  }
  return data;
}

export const get = (path) => call("GET", path);
export const q = encodeURIComponent;

// Any error in words for the page.
export function words(err) {
  if (err instanceof ApiError) return err.words;
  return String(err && err.message ? err.message : err);
}
