// Events, webhooks and the audit log: every committed change, the endpoints it is delivered to, who did what.
import { call, get, q, words } from "./api.js";
import { append, clear, field, h, section, table, when } from "./dom.js";
import { keyring } from "./forms.js";

const actor = (a) => (a.sub ? `${a.role}:${a.sub}` : a.role);
const problem = (err) => h("p", { class: "error", role: "alert" }, words(err));

function eventRows(items) {
  return table(items, [
    ["When", (e) => when(e.occurred_at)], ["Type", (e) => e.type], ["Account", (e) => e.account_id || "—"],
    ["App", (e) => (e.sdkappid === null ? "—" : String(e.sdkappid))], ["By", (e) => actor(e.actor)],
    ["Event", (e) => h("code", null, e.event_id)],
  ], { empty: "No events in this span.", class: "grid events" });
}

// A newest-first list with a "More" button that follows next_token.
async function paged(box, path) {
  const sep = path.includes("?") ? "&" : "?";
  let token = null;
  const more = h("button", { type: "button", class: "more" }, "More");
  const load = async () => {
    const page = await get(`${path}${token ? `${sep}next_token=${q(token)}` : ""}`);
    token = page.next_token;
    more.hidden = !token;
    return page.items;
  };
  const rows = await load();
  const holder = h("div", null, eventRows(rows));
  more.addEventListener("click", async () => {
    try { rows.push(...(await load())); clear(holder).append(eventRows(rows)); } catch (err) { holder.append(problem(err)); }
  });
  append(clear(box), holder, more);
}

function filters(params, names, go) {
  const inputs = Object.fromEntries(names.map(([name]) => [name, h("input", { name, value: params.get(name) || "" })]));
  const form = h("form", { class: "filters" }, names.map(([name, label]) => field(label, inputs[name])),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, input] of Object.entries(inputs)) if (input.value.trim()) next.set(name, input.value.trim());
    go(next.toString());
  });
  return form;
}

export async function eventsPage(target, params, role) {
  target.append(h("h1", null, "Events"));
  const names = [["type", "Type"], ["sdkappid", "App"], ["from", "From (ISO)"], ["to", "To (ISO)"]];
  if (role === "operator") names.unshift(["account_id", "Account"], ["actor", "Actor"]);
  target.append(filters(params, names, (query) => { location.hash = `#/events${query ? `?${query}` : ""}`; }));
  const box = h("div", { id: "events" }, h("p", { class: "muted" }, "Loading…"));
  target.append(section("Newest first", box));
  const query = new URLSearchParams([...params].filter(([k]) => names.some(([n]) => n === k)));
  await paged(box, `v1/events${query.toString() ? `?${query}` : ""}`);
}

export async function auditPage(target, params) {
  target.append(h("h1", null, "Audit log"));
  const names = [["actor", "Actor (an operator's name)"], ["from", "From (ISO)"], ["to", "To (ISO)"]];
  target.append(filters(params, names, (query) => { location.hash = `#/audit${query ? `?${query}` : ""}`; }));
  const box = h("div", { id: "audit" }, h("p", { class: "muted" }, "Loading…"));
  target.append(section("Changes made through the API, newest first", box));
  const query = new URLSearchParams([...params].filter(([k]) => names.some(([n]) => n === k)));
  await paged(box, `v1/ops/audit${query.toString() ? `?${query}` : ""}`);
}

function deliveriesTable(hook, items, reload) {
  return table(items, [
    ["Event", (d) => d.event_type], ["Status", (d) => h("span", { class: `status ${d.status}` }, d.status)],
    ["Attempts", (d) => String(d.attempts)], ["Last answer", (d) => (d.last_status === null ? (d.last_error || "—") : String(d.last_status))],
    ["Last attempt", (d) => when(d.last_attempt_at)], ["Next attempt", (d) => when(d.next_attempt_at)],
    ["", (d) => h("button", { type: "button", class: "retry", onclick: async (event) => {
      event.target.disabled = true;
      try { await call("POST", `v1/webhooks/${q(hook.webhook_id)}/deliveries/${q(d.delivery_id)}/retry`); } catch (err) { event.target.after(problem(err)); }
      await reload();
    } }, "Retry")],
  ], { empty: "No deliveries yet.", class: "grid deliveries" });
}

// An account's endpoints (accountId), or the operators' feed of every account (null).
export async function webhooksPage(target, accountId) {
  const base = accountId ? `v1/accounts/${q(accountId)}/webhooks` : "v1/ops/webhooks";
  target.append(h("h1", null, accountId ? `Webhooks of ${accountId}` : "Webhooks: every account's events"));
  const secretBox = h("div", { id: "webhook-secret" });
  const url = h("input", { name: "url", type: "url", required: true, placeholder: "https://example.com/imbill" });
  const kinds = h("input", { name: "events", value: "*" });
  const form = h("form", { class: "card webhook-form", id: "add-webhook" },
    field("Endpoint URL", url), field("Events (* or types, comma separated)", kinds),
    h("button", { type: "submit" }, "Add endpoint"));
  const list = h("div", { id: "webhooks" });
  const logs = h("div", { id: "deliveries" });
  const showSecret = (hook, what) => clear(secretBox).append(section(what,
    h("p", null, "Signing secret (shown only now): ", h("code", { class: "secret" }, hook.secret)),
    h("p", { class: "muted" }, "Check Imbill-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>.")));

  async function showDeliveries(hook) {
    const reload = async () => {
      try {
        const page = await get(`v1/webhooks/${q(hook.webhook_id)}/deliveries?limit=100`);
        clear(logs).append(section(`Deliveries to ${hook.url}`,
          h("button", { type: "button", class: "refresh", onclick: reload }, "Refresh"),
          deliveriesTable(hook, page.items, reload)));
      } catch (err) { clear(logs).append(problem(err)); }
    };
    await reload();
  }

  async function load() {
    const data = await get(base);
    clear(list).append(section("Endpoints", table(data.items, [
      ["URL", (w) => w.url], ["Events", (w) => w.events.join(", ")],
      ["Status", (w) => h("span", { class: `status ${w.status}` }, w.status)], ["Created", (w) => when(w.created_at)],
      ["", (w) => h("span", { class: "actions" },
        h("button", { type: "button", class: "deliveries", onclick: () => showDeliveries(w) }, "Deliveries"),
        h("button", { type: "button", class: "rotate", onclick: async () => {
          try { showSecret(await call("POST", `v1/webhooks/${q(w.webhook_id)}/rotate-secret`), "Secret rotated (the old one signs for 24 h more)"); } catch (err) { list.append(problem(err)); }
        } }, "Rotate secret"),
        h("button", { type: "button", class: "delete", onclick: async () => {
          try { await call("DELETE", `v1/webhooks/${q(w.webhook_id)}`); clear(logs); await load(); } catch (err) { list.append(problem(err)); }
        } }, "Delete"))],
    ], { empty: "No endpoints yet.", class: "grid webhooks" })));
  }

  const keys = keyring(); // one Idempotency-Key per submission, kept across its retries (forms.js)
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const events = kinds.value.split(",").map((s) => s.trim()).filter(Boolean);
    const req = { method: "POST", path: base, body: { url: url.value.trim(), events } };
    try {
      showSecret(await call(req.method, req.path, req.body, { key: keys.keyFor(req) }), "Endpoint added");
      keys.succeeded();
      url.value = "";
      await load();
    } catch (err) { clear(secretBox).append(problem(err)); }
  });
  target.append(form, secretBox, list, logs);
  await load();
}
