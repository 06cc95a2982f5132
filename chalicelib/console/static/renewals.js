// Renewal management and account controls (issue 18): the Renewals page (packages by expiry, filters,
// modes, select many, quote, renew), the Contacts page (the account's own contact, further contacts,
// the balance alert), and the app's disable / enable / delete buttons. Money forms go through
// forms.js (one Idempotency-Key per submission, buttons disabled while sending).
import { all, call, get, q, words } from "./api.js";
import { append, clear, field, h, section, table, when } from "./dom.js";
import { actionForm } from "./forms.js";

const KINDS = ["expiry_warning", "stopped", "arrears", "reclaimed", "bill", "balance_low"];
const MANDATORY = ["stopped", "arrears", "reclaimed"];

function notice(message, ok) {
  return message ? h("p", { class: ok ? "ok" : "error", role: ok ? "status" : "alert", id: "notice" }, message) : null;
}

function select(name, options, value) {
  return h("select", { name }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
}

// ------------------------------------------------------------------ Renewals
export async function renewalsPage(target, accountId, params, message, ok) {
  const again = (m, good) => renewalsPage(clear(target), accountId, params, m, good);
  const filters = new URLSearchParams();
  for (const name of ["expires_after", "expires_before", "product", "region", "renewal"]) {
    if (params.get(name)) filters.set(name, params.get(name));
  }
  const base = `v1/accounts/${q(accountId)}`;
  const [acct, packages, cat] = await Promise.all([get(base), all(`${base}/packages${filters.toString() ? `?${filters}` : ""}`),
    get("v1/catalog")]);

  const before = h("input", { name: "expires_before", type: "date",
    value: (params.get("expires_before") || "").slice(0, 10) });
  const mode = select("renewal", [["", "any mode"], ["auto", "auto"], ["manual", "manual"], ["none", "none"]],
    params.get("renewal") || "");
  const productFilter = h("input", { name: "product", value: params.get("product") || "", placeholder: "any product" });
  const filterForm = h("form", { class: "filters", id: "renewal-filters" }, field("Expiring before", before),
    field("Product", productFilter), field("Mode", mode), h("button", { type: "submit" }, "Filter"));
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (before.value) next.set("expires_before", `${before.value}T00:00:00Z`);
    if (productFilter.value.trim()) next.set("product", productFilter.value.trim());
    if (mode.value) next.set("renewal", mode.value);
    location.hash = `#/renewals/${q(accountId)}${next.toString() ? `?${next}` : ""}`;
  });

  const rows = packages.map((p) => ({
    p,
    pick: h("input", { type: "checkbox", name: "pick", "data-pick": `${p.sdkappid}:${p.product}`,
      disabled: Boolean(cat.editions[p.product]?.trial), "aria-label": `Select ${p.app_name} ${p.product}` }),
    months: h("input", { type: "number", name: "months", min: 1, max: 24, value: 1, class: "months",
      "aria-label": `Months for ${p.app_name} ${p.product}` }),
    mode: select("mode", [["auto", "auto"], ["manual", "manual"], ["none", "none"]], p.renewal),
  }));
  for (const r of rows) {
    r.mode.addEventListener("change", async () => {
      r.mode.disabled = true;
      try {
        await call("PUT", `v1/apps/${q(r.p.sdkappid)}/renewal`, { product: r.p.product, mode: r.mode.value });
        await again(`Renewal of ${r.p.app_name} ${r.p.product}: ${r.mode.value}.`, true);
      } catch (err) {
        r.mode.value = r.p.renewal;
        r.mode.disabled = false;
        target.prepend(notice(words(err), false));
      }
    });
  }
  const selectAll = h("input", { type: "checkbox", id: "pick-all", "aria-label": "Select every package" });
  selectAll.addEventListener("change", () => { for (const r of rows) if (!r.pick.disabled) r.pick.checked = selectAll.checked; });

  const renew = actionForm("renew", "Renew the selected packages", [
    h("p", { class: "muted" }, "Each selected package is renewed for its months, priced as if bought one by one in " +
      "the order listed. Nothing is renewed unless the balance covers all of them."),
  ], "Quote", {
    request: () => {
      const items = rows.filter((r) => r.pick.checked).map((r) => ({ sdkappid: r.p.sdkappid, product: r.p.product,
        months: Number(r.months.value) }));
      if (!items.length) throw new Error("select at least one package");
      return { method: "POST", path: `${base}/renewals`, body: { items }, what: `Renew ${items.length} package(s)?` };
    },
    review: async (req) => {
      const quote = await call("POST", `${base}/renewals/quote`, req.body);
      const view = [
        table(quote.items, [
          ["SDKAppID", (i) => String(i.sdkappid)], ["Product", (i) => i.product], ["Months", (i) => String(i.months)],
          ["Price", (i) => i.price], ["Cash", (i) => i.paid_cash], ["Gift", (i) => i.paid_gift],
          ["From", (i) => when(i.starts_at)], ["To", (i) => when(i.ends_at)],
        ], { class: "grid num quote" }),
        h("p", { id: "quote-total" }, `Total ${quote.total} (cash ${quote.cash}, gift ${quote.gift})`,
          quote.covered ? "" : ` — the balance is ${quote.shortfall} short`),
      ];
      if (!quote.covered) throw new Error(`the balance does not cover the batch: total ${quote.total}, shortfall ${quote.shortfall}`);
      return { show: view, confirm: `Renew ${quote.items.length} for ${quote.total}` };
    },
    done: (out) => again(`Renewed ${out.orders.length} package(s); balance now ${out.balance.total}.`, true),
  });

  append(target,
    h("h1", null, `Renewals of ${accountId}`),
    notice(message, ok),
    h("p", null, h("a", { href: `#/account/${q(accountId)}` }, `Account ${accountId}`), " · balance ",
      h("span", { "data-balance": "total" }, acct.balance.total)),
    section("Filter", filterForm),
    section(`Packages by expiry (${packages.length})`, h("label", { class: "field" }, selectAll, " Select all"),
      table(rows, [
      ["Select", (r) => r.pick], ["App", (r) => `${r.p.app_name} (${r.p.sdkappid})`],
      ["Product", (r) => r.p.product + (r.p.tier ? ` ${r.p.tier}` : "")], ["Region", (r) => r.p.region],
      ["Expires", (r) => when(r.p.expires_at)], ["State", (r) => r.p.state], ["Monthly", (r) => r.p.monthly_price],
      ["Mode", (r) => r.mode], ["Months", (r) => r.months],
    ], { class: "grid packages", empty: "No package matches." })),
    h("div", { class: "cards" }, renew),
  );
}

// ------------------------------------------------------------------ Contacts and the balance alert
export async function contactsPage(target, accountId, message, ok) {
  const again = (m, good) => contactsPage(clear(target), accountId, m, good);
  const base = `v1/accounts/${q(accountId)}`;
  const [acct, listed] = await Promise.all([get(base), get(`${base}/contacts`)]);
  const [own, ...others] = listed.items;

  const plainForm = (id, title, controls, label, send) => {
    const status = h("div", { class: "result" });
    const button = h("button", { type: "submit" }, label);
    const form = h("form", { class: "card action", id }, h("h2", null, title), ...controls, button, status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (button.disabled) return;
      button.disabled = true;
      try {
        await again(await send(), true);
      } catch (err) {
        button.disabled = false;
        clear(status).append(notice(words(err), false));
      }
    });
    return form;
  };

  const email = h("input", { name: "email", type: "email", value: acct.email });
  const phone = h("input", { name: "phone", value: acct.phone });
  const mine = plainForm("own-contact", "The account's own contact", [field("E-mail", email), field("Phone", phone)],
    "Save", async () => {
      const a = await call("PATCH", base, { email: email.value.trim(), phone: phone.value.trim() });
      return `Contact saved: ${a.email} · ${a.phone}.`;
    });

  const put = (items) => call("PUT", `${base}/contacts`, { items });
  const keep = (c) => ({ contact_id: c.contact_id, name: c.name || undefined, email: c.email || undefined,
    phone: c.phone || undefined, subscriptions: c.subscriptions });
  const remove = (c) => h("button", { type: "button", class: "remove", "data-remove": c.contact_id, onclick: async (e) => {
    e.target.disabled = true;
    try {
      await put([keep(own), ...others.filter((o) => o !== c).map(keep)]);
      await again(`Contact ${c.contact_id} removed.`, true);
    } catch (err) {
      e.target.disabled = false;
      target.prepend(notice(words(err), false));
    }
  } }, "Remove");

  const boxes = {};
  const grid = h("table", { class: "grid subscriptions" }, h("thead", null, h("tr", null, h("th", null, "Kind"),
    h("th", null, "E-mail"), h("th", null, "SMS"))), h("tbody", null, KINDS.map((kind) => {
    boxes[kind] = { email: h("input", { type: "checkbox", name: `${kind}-email`, "aria-label": `${kind} by e-mail` }),
      sms: h("input", { type: "checkbox", name: `${kind}-sms`, "aria-label": `${kind} by SMS` }) };
    return h("tr", null, h("td", null, kind), h("td", null, boxes[kind].email), h("td", null, boxes[kind].sms));
  })));
  const cid = h("input", { name: "contact_id", required: true });
  const cname = h("input", { name: "name" });
  const cemail = h("input", { name: "contact_email", type: "email" });
  const cphone = h("input", { name: "contact_phone" });
  const add = plainForm("add-contact", "Add a contact", [field("Contact id", cid), field("Name", cname),
    field("E-mail", cemail), field("Phone", cphone), grid], "Add contact", async () => {
    const subscriptions = {};
    for (const kind of KINDS) {
      const chosen = ["email", "sms"].filter((ch) => boxes[kind][ch].checked);
      if (chosen.length) subscriptions[kind] = chosen;
    }
    const fresh = { contact_id: cid.value.trim(), subscriptions };
    if (cname.value.trim()) fresh.name = cname.value.trim();
    if (cemail.value.trim()) fresh.email = cemail.value.trim();
    if (cphone.value.trim()) fresh.phone = cphone.value.trim();
    await put([keep(own), ...others.map(keep), fresh]);
    return `Contact ${fresh.contact_id} added.`;
  });

  const threshold = h("input", { name: "threshold", inputmode: "decimal", placeholder: "none" });
  const alertForm = plainForm("balance-alert", "Balance alert", [
    h("p", { class: "muted" }, "One balance_low notice when a charge takes cash + gift below the threshold; " +
      "the next only after the balance is back at it. Empty: no alert."),
    field("Threshold", threshold)], "Set alert", async () => {
    const out = await call("PUT", `${base}/balance-alert`, { threshold: threshold.value.trim() || null });
    return out.threshold === null ? "No balance alert." : `Alert below ${out.threshold} (${out.armed ? "armed" : "not armed"}).`;
  });

  const subs = (c) => Object.entries(c.subscriptions || {}).filter(([, chs]) => chs.length)
    .map(([k, chs]) => `${k}: ${chs.join("+")}`).join("; ") || "nothing";
  append(target,
    h("h1", null, `Contacts of ${accountId}`),
    notice(message, ok),
    h("p", null, h("a", { href: `#/account/${q(accountId)}` }, `Account ${accountId}`)),
    section("Who is told", table(listed.items, [
      ["Contact", (c) => c.contact_id], ["Name", (c) => c.name || "—"], ["E-mail", (c) => c.email || "—"],
      ["Phone", (c) => c.phone || "—"], ["Subscriptions", subs],
      ["", (c) => (c.contact_id === "account" ? h("span", { class: "muted" }, `always: ${MANDATORY.join(", ")}`) : remove(c))],
    ], { class: "grid contacts" })),
    h("div", { class: "cards" }, mine, add, alertForm),
  );
}

// ------------------------------------------------------------------ an app's disable / enable / delete
export function appControls(app, again, role) {
  const base = `v1/apps/${q(app.sdkappid)}`;
  const forms = [];
  if (app.status === "enabled") {
    forms.push(actionForm("disable-app", "Disable the app", [h("p", { class: "muted" },
      "Logins are refused; its packages run out their terms (nothing is refunded). It is reclaimed 90 days " +
      "after the disable unless enabled again.")], "Disable", {
      request: () => ({ method: "POST", path: `${base}/disable`, what: `Disable app ${app.name} (${app.sdkappid})?` }),
      done: (a) => again(`App ${a.name} is ${a.status} (${a.disabled_reason}).`, true),
    }));
  }
  if (app.status === "disabled") {
    forms.push(actionForm("enable-app", "Enable the app", [h("p", { class: "muted" },
      "Possible while its package is valid.")], "Enable", {
      request: () => ({ method: "POST", path: `${base}/enable`, what: `Enable app ${app.name} (${app.sdkappid})?` }),
      done: (a) => again(`App ${a.name} is ${a.status}.`, true),
    }));
  }
  if (role !== "operator" && (app.status === "disabled" || app.status === "stopped")) {
    forms.push(actionForm("delete-app", "Delete (reclaim) the app", [h("p", { class: "muted" },
      "Reclaimed at once: its data is deleted, a tombstone kept.")], "Delete app", {
      request: () => ({ method: "DELETE", path: base, what: `Delete app ${app.name} (${app.sdkappid}) now? This cannot be undone.` }),
      done: (a) => again(`App ${a.name} is ${a.status}.`, true),
    }));
  }
  return forms;
}
