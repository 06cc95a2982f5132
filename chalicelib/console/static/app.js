// The console's router: sign-in, then the operator's or the customer's pages (hash routes, no token in them).
import { ApiError, call, claims, session, words } from "./api.js";
import { clear, h, zone } from "./dom.js";
import { accountPage, appPage, statementPage } from "./account.js";
import { accountsPage, dashboardPage } from "./operator.js";
import { contactsPage, renewalsPage } from "./renewals.js";
import { auditPage, eventsPage, webhooksPage } from "./events.js";

const main = () => document.getElementById("main");

function fail(err) {
  if (err instanceof ApiError && err.status === 401) {
    session.clear();
    signIn(`Signed out: ${err.words}`);
    return h("p", { class: "error", role: "alert" }, err.words);
  }
  return h("p", { class: "error", role: "alert" }, words(err));
}

function nav() {
  const c = claims();
  const el = clear(document.getElementById("nav"));
  if (!c) return;
  const links = c.role === "operator"
    ? [["#/dashboard", "Dashboard"], ["#/accounts", "Accounts"], ["#/events", "Events"], ["#/webhooks", "Webhooks"],
      ["#/audit", "Audit"]]
    : [[`#/account/${encodeURIComponent(c.sub)}`, "My account"], [`#/renewals/${encodeURIComponent(c.sub)}`, "Renewals"],
      [`#/contacts/${encodeURIComponent(c.sub)}`, "Contacts"], ["#/events", "Events"],
      [`#/webhooks/${encodeURIComponent(c.sub)}`, "Webhooks"]];
  for (const [href, text] of links) el.append(h("a", { href }, text));
  el.append(h("span", { class: "who" }, `${c.role}${c.role === "customer" ? ` ${c.sub}` : ""}`));
  el.append(h("button", { type: "button", id: "sign-out", onclick: () => { session.clear(); generation += 1; location.hash = "#/"; signIn(); } },
    "Sign out"));
}

function home() {
  const c = claims();
  return c && c.role === "customer" ? `#/account/${encodeURIComponent(c.sub)}` : "#/dashboard";
}

function signIn(message) {
  nav();
  const input = h("input", { name: "token", type: "password", autocomplete: "off", required: true, id: "token" });
  const status = h("p", { class: "error", role: "alert" }, message || "");
  const form = h("form", { class: "card signin", id: "signin" },
    h("h1", null, "Sign in"),
    h("label", { for: "token" }, "Access token"),
    input,
    h("button", { type: "submit" }, "Sign in"),
    status,
    h("p", { class: "muted" }, "The token stays in this browser tab's session only."));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    session.set(input.value.trim());
    const c = claims();
    try {
      if (!c || !c.role) throw new ApiError(401, "unauthorized", "this is not an access token");
      if (c.role === "operator") await call("GET", "v1/ops/job-runs?limit=1");
      else if (c.role === "customer") await call("GET", `v1/accounts/${encodeURIComponent(c.sub)}`);
      else throw new ApiError(403, "forbidden", `the ${c.role} role has no console`);
    } catch (err) {
      session.clear();
      clear(status).append(words(err));
      return;
    }
    if (location.hash === home()) route();
    else location.hash = home(); // hashchange routes
  });
  clear(main()).append(form);
  input.focus();
}

let generation = 0;

async function route() {
  const hash = location.hash || "#/";
  const c = claims();
  if (!session.token() || !c) return signIn();
  nav();
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const gen = ++generation; // a newer route wins: an older one still loading is dropped
  clear(main()).append(h("p", { class: "muted" }, "Loading…"));
  const target = h("div", { id: "page" });
  try {
    if (parts.length === 0) {
      location.replace(home());
      return;
    } else if (parts[0] === "dashboard" && c.role === "operator") {
      await dashboardPage(target);
    } else if (parts[0] === "accounts" && c.role === "operator") {
      await accountsPage(target, params);
    } else if (parts[0] === "account" && parts[1]) {
      await accountPage(target, parts[1], c.role);
    } else if (parts[0] === "statement" && parts[1] && /^\d{4}-\d{2}$/.test(parts[2] || "")) {
      await statementPage(target, parts[1], parts[2]);
    } else if (parts[0] === "renewals" && parts[1]) {
      await renewalsPage(target, parts[1], params);
    } else if (parts[0] === "contacts" && parts[1]) {
      await contactsPage(target, parts[1]);
    } else if (parts[0] === "app" && parts[1]) {
      await appPage(target, parts[1], c.role);
    } else if (parts[0] === "events") {
      await eventsPage(target, params, c.role);
    } else if (parts[0] === "audit" && c.role === "operator") {
      await auditPage(target, params);
    } else if (parts[0] === "webhooks" && (parts[1] || c.role === "operator")) {
      await webhooksPage(target, parts[1] || null);
    } else {
      target.append(h("p", { class: "error", role: "alert" }, "No such page."));
    }
  } catch (err) {
    target.append(fail(err));
  }
  if (gen === generation && session.token()) clear(main()).append(target);
}

document.getElementById("zone").textContent = `Times in ${zone()}`;
window.addEventListener("hashchange", route);
route();

