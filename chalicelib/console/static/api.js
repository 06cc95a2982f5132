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

// Where the service is: the console's own URL is <root>console (its modules <root>console/static/*.js),
// so a deployment under a stage path (/api/console) calls /api/v1/... Paths below are relative to it.
export const ROOT = new URL("../../", import.meta.url);
export const url = (path) => new URL(path.replace(/^\/+/, ""), ROOT).href;

// One request. `opts.key` is the Idempotency-Key of a create or a money move: forms.js keeps one per
// submission (retries of it reuse it); nothing here makes one up, so a retried call never charges twice.
// `opts.accept: "text"` answers the body as text (CSV).
export async function call(method, path, body, opts = {}) {
  const headers = { Accept: opts.accept === "text" ? "text/csv" : "application/json",
    Authorization: `Bearer ${session.token() || ""}` };
  const init = { method, headers, credentials: "omit", cache: "no-store", redirect: "error" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (opts.key) headers["Idempotency-Key"] = opts.key;
  let response;
  try {
    response = await fetch(url(path), init);
  } catch (err) {
    throw new ApiError(0, "network_error", `the service did not answer: ${err.message}`);
  }
  if (response.ok && opts.accept === "text") return response.text();
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

// Every page of a list (`items` + `next_token`): no cap, the console follows next_token to the end.
export async function all(path, limit = 1000) {
  const items = [];
  let token = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await get(`${path}${sep}limit=${limit}${token ? `&next_token=${encodeURIComponent(token)}` : ""}`);
    items.push(...page.items);
    token = page.next_token;
  } while (token);
  return items;
}
export const q = encodeURIComponent;

// Any error in words for the page.
export function words(err) {
  if (err instanceof ApiError) return err.words;
  return String(err && err.message ? err.message : err);
}
