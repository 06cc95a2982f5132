// An account (operator or its customer) and one app: balance, ledger (every page, by date range), apps,
// orders, bills, usage, notifications; buy, renew, upgrade (priced and previewed by the API), refund after a
// quote, plugins, add-ons, auto-renew; operators also top up, grant vouchers, create and delete apps.
import { appControls } from "./renewals.js";
import { all, call, get, q, words } from "./api.js";
import { append, clear, field, h, link, section, table, when } from "./dom.js";
import { actionForm } from "./forms.js";

const yesNo = (b) => (b ? "on" : "off");
const appLink = (a) => link(`#/app/${q(a.sdkappid)}`, a.name);

function balanceBox(balance) {
  return h("dl", { class: "balance", id: "balance" },
    h("dt", null, "Cash"), h("dd", { "data-balance": "cash" }, balance.cash),
    h("dt", null, "Gift"), h("dd", { "data-balance": "gift" }, balance.gift),
    h("dt", null, "Total"), h("dd", { "data-balance": "total" }, balance.total));
}

function notice(message, ok) {
  return message ? h("p", { class: ok ? "ok" : "error", role: ok ? "status" : "alert", id: "notice" }, message) : null;
}

// A definition list of [label, value, data key] rows.
export function facts(cls, id, rows, attr) {
  return h("dl", { class: cls, id }, rows.filter(Boolean).flatMap(([label, value, key]) =>
    [h("dt", null, label), h("dd", key ? { [attr]: key } : null, value)]));
}

async function autoRenewButton(app, after) {
  const b = h("button", { type: "button", class: "toggle", "data-app": app.sdkappid },
    `Turn auto-renew ${app.auto_renew ? "off" : "on"}`);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      const out = await call("PUT", `v1/apps/${q(app.sdkappid)}/auto-renew`, { enabled: !app.auto_renew });
      after(`Auto-renew of ${out.name} is ${yesNo(out.auto_renew)}.`, true);
    } catch (err) {
      b.disabled = false;
      after(words(err), false);
    }
  });
  return b;
}

const select = (name, options, value) => h("select", { name },
  options.map(([v, t]) => h("option", { value: v, selected: v === value }, t)));
const months = () => h("input", { name: "months", type: "number", min: 1, max: 24, value: 1, required: true });
const amount = (name = "amount") => h("input", { name, inputmode: "decimal", required: true, placeholder: "100.00",
  pattern: "[0-9]{1,10}(\\.[0-9]{1,2})?" });
const text = (name, attrs = {}) => h("input", { name, ...attrs });

// what can be bought comes from the catalog in force (GET /v1/catalog): a new product needs no change here
const title = (name) => name.charAt(0).toUpperCase() + name.slice(1);
const forSale = (group) => Object.entries(group).filter(([, p]) => p.purchasable).map(([name]) => [name, title(name)]);
const tiersOf = (cat, addon) => Object.keys(cat.addons[addon].tiers).map((t) => [t, t.replace(/_/g, " ")]);
const cents = (s) => Math.round(Number(s) * 100);
const money = (c) => `${c < 0 ? "-" : ""}${Math.floor(Math.abs(c) / 100)}.${String(Math.abs(c) % 100).padStart(2, "0")}`;

function bought(out) {
  const o = out.order;
  return `Order ${o.order_id}: ${o.kind} ${o.product} for ${o.months} month(s), price ${o.price}, ` +
    `voucher ${o.voucher_amount}, paid cash ${o.paid_cash} gift ${o.paid_gift}` +
    (out.credit ? `, credit ${out.credit.total}` : "") + `. Balance now ${out.balance.total}.`;
}

// The API's preview of a purchase (POST …/quote: the purchase's own code, nothing written), with the catalog price.
async function preview(req, listPrice) {
  const p = await call("POST", `${req.path}/quote`, req.body);
  return {
    show: [facts("quote preview", "preview", [
      ["Catalog price", listPrice, "list_price"],
      ["Kind", p.kind, "kind"],
      ["Period", `${when(p.starts_at)} → ${when(p.ends_at)}`, "period"],
      ["Price", p.price, "price"],
      ["Voucher", p.voucher_amount, "voucher_amount"],
      p.credit ? ["Upgrade credit", p.credit.total, "credit"] : null,
      ["Paid cash", p.paid_cash, "paid_cash"],
      ["Paid gift", p.paid_gift, "paid_gift"],
      ["Amount due", p.amount_due, "amount_due"],
      ["Balance after", p.balance_after.total, "balance_after"],
    ], "data-preview")],
    confirm: `Confirm: pay ${p.amount_due}`,
  };
}

export async function accountPage(target, accountId, role, message, ok, range) {
  const again = (m, good) => accountPage(clear(target), accountId, role, m, good, range);
  const base = `v1/accounts/${q(accountId)}`;
  const span = new URLSearchParams();
  if (range && range.from) span.set("from", range.from);
  if (range && range.to) span.set("to", range.to);
  const filtered = span.toString() ? `?${span}` : "";
  const [acct, apps, ledger, bills, notes] = await Promise.all([
    get(base), all(`${base}/apps`, 100), all(`${base}/ledger${filtered}`),
    all(`${base}/bills${filtered}`, 100), all(`${base}/notifications`),
  ]);
  const toggles = await Promise.all(apps.map((a) => autoRenewButton(a, again)));

  const from = h("input", { name: "from", type: "date", value: (range && range.from) || "" });
  const to = h("input", { name: "to", type: "date", value: (range && range.to) || "" });
  const rangeForm = h("form", { class: "inline", id: "ledger-range" }, field("From", from), field("To", to),
    h("button", { type: "submit" }, "Filter"));
  rangeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    accountPage(clear(target), accountId, role, null, null, { from: from.value, to: to.value })
      .catch((err) => target.append(h("p", { class: "error", role: "alert" }, words(err))));
  });

  const now = new Date(); // the statement month: that of the newest entry (billing zone), else this one
  const latest = ledger.length ? when(ledger[ledger.length - 1].at).slice(0, 7)
    : `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
  const month = h("input", { name: "month", type: "month", required: true, value: latest });
  const statementForm = h("form", { class: "inline", id: "statement-open" }, field("Month", month),
    h("button", { type: "submit" }, "Open statement"));
  statementForm.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/statement/${q(accountId)}/${q(month.value)}`;
  });

  const appName = text("name", { required: true, maxlength: 64 });
  const region = text("region", { required: true, maxlength: 64, value: "eu" });
  const createApp = actionForm("create-app", "Create an app", [field("Name", appName), field("Region", region)],
    "Create app", {
      request: () => ({ method: "POST", path: `${base}/apps`, body: { name: appName.value, region: region.value },
        what: `Create the app “${appName.value}” in ${region.value} on the free trial edition?` }),
      done: (a) => again(`App ${a.name} created: SDKAppID ${a.sdkappid}.`, true),
    });

  const operatorForms = [];
  if (role === "operator") {
    const topupAmount = amount();
    const kind = select("kind", [["cash", "cash"], ["gift", "gift"]], "cash");
    operatorForms.push(actionForm("topup", "Top up", [field("Amount", topupAmount), field("Kind", kind)], "Top up", {
      request: () => ({ method: "POST", path: `${base}/topups`, body: { amount: topupAmount.value, kind: kind.value },
        what: `Add ${topupAmount.value} ${kind.value} to ${accountId}?` }),
      done: (out) => again(`Topped up ${out.entry.cash !== "0.00" ? out.entry.cash : out.entry.gift} ${kind.value}. ` +
        `Balance now ${out.balance.total}.`, true),
    }));
    const voucherAmount = amount();
    const expires = text("expires_at", { placeholder: "2027-12-31T00:00:00Z (optional)" });
    operatorForms.push(actionForm("voucher", "Grant a voucher", [field("Amount", voucherAmount),
      field("Expires at (ISO instant, optional)", expires)], "Grant voucher", {
      request: () => {
        const body = { amount: voucherAmount.value };
        if (expires.value.trim()) body.expires_at = expires.value.trim();
        return { method: "POST", path: `${base}/vouchers`, body,
          what: `Grant ${accountId} a voucher of ${voucherAmount.value}${body.expires_at ? `, expiring ${body.expires_at}` : ""}?` };
      },
      done: (v) => again(`Voucher ${v.voucher_id} of ${v.amount} granted.`, true),
    }));
  }

  append(target,
    h("h1", null, `Account ${acct.account_id}`),
    notice(message, ok),
    h("p", null, link(`#/renewals/${q(acct.account_id)}`, "Renewals"), " · ", link(`#/contacts/${q(acct.account_id)}`,
      "Contacts and balance alert")),
    section("Balance", balanceBox(acct.balance),
      h("p", null, `Status: ${acct.status}`, acct.arrears_since ? ` since ${when(acct.arrears_since)}` : "",
        ` · ${acct.email} · ${acct.phone}`),
      statementForm),
    section("Apps", table(apps, [
      ["Name", appLink], ["SDKAppID", (a) => String(a.sdkappid)], ["Edition", (a) => a.edition],
      ["Status", (a) => a.status + (a.stop_reason ? ` (${a.stop_reason})` : "")],
      ["Expires", (a) => when(a.expires_at)], ["Auto-renew", (a) => yesNo(a.auto_renew)],
      ["", (a) => toggles[apps.indexOf(a)]],
    ], { empty: "No app yet.", class: "grid" })),
    h("div", { class: "cards" }, createApp, ...operatorForms),
    section(`Ledger (newest first${filtered ? `, ${span.get("from") || "…"} to ${span.get("to") || "…"}` : ""}, ` +
      `${ledger.length} entries)`, rangeForm, table([...ledger].reverse(), [
      ["At", (e) => when(e.at)], ["Kind", (e) => e.kind], ["Cash", (e) => e.cash], ["Gift", (e) => e.gift],
      ["Balance cash", (e) => e.balance_cash], ["Balance gift", (e) => e.balance_gift], ["Ref", (e) => e.ref || "—"],
    ], { class: "grid num ledger", empty: "No ledger entry yet." })),
    section("Bills", bills.length ? bills.map((b) => h("div", { class: "bill" },
      h("h3", null, `${b.kind} bill ${b.period}: ${b.total}`, h("span", { class: "muted" }, ` posted ${when(b.posted_at)}`)),
      table(b.lines, [
        ["SDKAppID", (l) => String(l.sdkappid)], ["Item", (l) => l.item], ["Quantity", (l) => String(l.quantity)],
        ["Unit price", (l) => l.unit_price], ["Amount", (l) => l.amount],
      ], { class: "grid num" }))) : h("p", { class: "muted" }, "No bill yet.")),
    section("Notifications", table([...notes].reverse(), [
      ["At", (n) => when(n.at)], ["Kind", (n) => n.kind], ["To", (n) => `${n.channel} ${n.to}`],
      ["Subject", (n) => n.subject], ["Status", (n) => n.status || "sent"],
    ], { empty: "No notification yet." })),
  );
}

// A month's statement: opening and closing balance, every entry, every bill; printable, and as CSV.
export async function statementPage(target, accountId, month) {
  const path = `v1/accounts/${q(accountId)}/statements/${q(month)}`;
  const st = await get(path);
  const csv = h("button", { type: "button", id: "statement-csv", class: "toggle" }, "Download CSV");
  csv.addEventListener("click", async () => {
    csv.disabled = true;
    try {
      const body = await call("GET", `${path}?format=csv`, undefined, { accept: "text" });
      const a = h("a", { href: URL.createObjectURL(new Blob([body], { type: "text/csv" })),
        download: `statement-${accountId}-${month}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      csv.after(h("p", { class: "error", role: "alert" }, words(err)));
    } finally {
      csv.disabled = false;
    }
  });
  const print = h("button", { type: "button", class: "toggle", onclick: () => window.print() }, "Print");
  const row = (label, b, key) => [label, `${b.total} (cash ${b.cash}, gift ${b.gift})`, key];
  append(target,
    h("h1", null, `Statement ${st.month}: account ${st.account_id}`),
    h("p", { class: "no-print" }, link(`#/account/${q(accountId)}`, `Account ${accountId}`), " ", csv, " ", print),
    section("Balances", facts("facts", "statement-totals", [
      ["Period", `${when(st.starts_at)} → ${when(st.ends_at)}`],
      row("Opening", st.opening, "opening"), row("Moved", st.moved, "moved"), row("Closing", st.closing, "closing"),
    ], "data-statement")),
    section(`Ledger entries (${st.entries.length})`, table(st.entries, [
      ["At", (e) => when(e.at)], ["Kind", (e) => e.kind], ["Cash", (e) => e.cash], ["Gift", (e) => e.gift],
      ["Balance cash", (e) => e.balance_cash], ["Balance gift", (e) => e.balance_gift], ["Ref", (e) => e.ref || "—"],
    ], { class: "grid num ledger", empty: "No ledger entry this month." })),
    section(`Bills posted (${st.bills.length})`, st.bills.length ? st.bills.map((b) => h("div", { class: "bill" },
      h("h3", null, `${b.kind} bill ${b.period}: ${b.total}`, h("span", { class: "muted" }, ` posted ${when(b.posted_at)}`)),
      table(b.lines, [
        ["SDKAppID", (l) => String(l.sdkappid)], ["Item", (l) => l.item], ["Quantity", (l) => String(l.quantity)],
        ["Unit price", (l) => l.unit_price], ["Amount", (l) => l.amount],
      ], { class: "grid num" }))) : h("p", { class: "muted" }, "No bill this month.")),
  );
}

export async function appPage(target, sdkappid, role, message, ok) {
  const again = (m, good) => appPage(clear(target), sdkappid, role, m, good);
  const base = `v1/apps/${q(sdkappid)}`;
  const [app, ent, orders] = await Promise.all([get(base), get(`${base}/entitlements`), get(`${base}/orders?limit=100`)]);
  const [usage, vouchers, cat] = await Promise.all([
    get(`${base}/usage?month=${q(ent.mau.month)}`),
    get(`v1/accounts/${q(app.account_id)}/vouchers?limit=100`),
    get("v1/catalog"),
  ]);
  const free = vouchers.items.filter((v) => !v.used_by_order);
  const trial = Boolean(cat.editions[app.edition]?.trial);  // the catalog's free edition: extended, not renewed
  const Edition = app.edition.charAt(0).toUpperCase() + app.edition.slice(1);
  const products = [!trial ? [app.edition, `${app.edition} edition`] : null,
    ...Object.keys(ent.plugins || {}).map((p) => [p, `${p} plugin`]),
    ...Object.keys(ent.addons || {}).map((p) => [p, `${p} add-on`])].filter(Boolean);

  const editions = forSale(cat.editions);
  const buyEdition = select("edition", editions,
    editions.some(([e]) => e === app.edition) ? app.edition : (editions.length ? editions[0][0] : ""));
  const buyMonths = months();
  const voucher = select("voucher_id", [["", "no voucher"], ...free.map((v) => [v.voucher_id, `${v.voucher_id} (${v.amount})`])], "");
  const autoRenew = h("input", { type: "checkbox", name: "auto_renew", checked: app.auto_renew });
  const listPrice = (monthly, n) => `${money(cents(monthly) * n)} (${monthly} × ${n} month${n === 1 ? "" : "s"})`;
  const editionPrice = h("p", { class: "muted price", "data-price": "edition" });
  const showEditionPrice = () => {
    const e = cat.editions[buyEdition.value];
    editionPrice.textContent = e ? `Catalog price: ${listPrice(e.monthly_price, Number(buyMonths.value) || 1)}` : "";
  };
  buyEdition.addEventListener("change", showEditionPrice);
  buyMonths.addEventListener("input", showEditionPrice);
  showEditionPrice();
  const buy = actionForm("buy", "Buy, renew or upgrade an edition", [
    field("Edition", buyEdition), field("Months", buyMonths), field("Voucher", voucher), field("Auto-renew", autoRenew),
    editionPrice,
  ], "Preview", {
    request: () => {
      const body = { edition: buyEdition.value, months: Number(buyMonths.value), auto_renew: autoRenew.checked };
      if (voucher.value) body.voucher_id = voucher.value;
      return { method: "POST", path: `${base}/purchases`, body };
    },
    review: (req) => preview(req, listPrice(cat.editions[req.body.edition].monthly_price, req.body.months)),
    done: (out) => again(bought(out), true),
  });

  const product = select("product", products, products.length ? products[0][0] : "");
  const refund = actionForm("refund", "Refund", [field("Product", product)], "Get refund quote", {
    request: () => ({ method: "POST", path: `${base}/refunds`, body: { product: product.value } }),
    review: async (req) => {
      const quote = await get(`${base}/refund-quote?product=${q(req.body.product)}`);
      return {
        show: [h("dl", { class: "quote", id: "quote" },
          ["current_amount", "not_started_amount", "used_value", "total", "cash", "gift"].flatMap((k) =>
            [h("dt", null, k.replace(/_/g, " ")), h("dd", { "data-quote": k }, quote[k])])),
        h("p", null, `Quoted ${when(quote.at)} for ${quote.product}.`)],
        confirm: `Refund ${quote.total} now`,
      };
    },
    done: (out) => again(`Refunded ${out.refund.total} (cash ${out.refund.cash}, gift ${out.refund.gift}). ` +
      `Balance now ${out.balance.total}.`, true),
  });

  const pluginNames = forSale(cat.plugins);
  const plugin = select("plugin", pluginNames, pluginNames.length ? pluginNames[0][0] : "");
  const pluginMonths = months();
  const plugins = actionForm("plugin", "Buy a plugin", [field("Plugin", plugin), field("Months", pluginMonths)],
    "Preview plugin", {
      request: () => ({ method: "POST", path: `${base}/plugins`,
        body: { plugin: plugin.value, months: Number(pluginMonths.value) } }),
      review: (req) => preview(req, listPrice(cat.plugins[req.body.plugin].monthly_price, req.body.months)),
      done: (out) => again(bought(out), true),
    });

  const addonNames = forSale(cat.addons);
  const addon = select("addon", addonNames, addonNames.length ? addonNames[0][0] : "");
  const tier = select("tier", addonNames.length ? tiersOf(cat, addonNames[0][0]) : [], "");
  addon.addEventListener("change", () => append(clear(tier),
    tiersOf(cat, addon.value).map(([v, t]) => h("option", { value: v }, t))));
  const quantity = h("input", { name: "quantity", type: "number", min: 1, max: 100000, placeholder: "default" });
  const addonMonths = months();
  const addons = actionForm("addon", "Buy an add-on", [field("Add-on", addon), field("Tier", tier),
    field("Quantity", quantity), field("Months", addonMonths)], "Preview add-on", {
    request: () => {
      const body = { addon: addon.value, months: Number(addonMonths.value) };
      if (tier.value) body.tier = tier.value;
      if (quantity.value) body.quantity = Number(quantity.value);
      return { method: "POST", path: `${base}/addons`, body };
    },
    review: (req) => {
      const t = cat.addons[req.body.addon].tiers[req.body.tier];
      return preview(req, t ? `${t.price} (${req.body.tier} tier)` : "see the preview");
    },
    done: (out) => again(bought(out), true),
  });

  const lifecycle = !trial ? [] : [
    actionForm("extend-trial", `Extend the ${Edition} trial`, [h("p", { class: "muted" },
      `An expired ${Edition} app runs one more month (before reclamation).`)], "Extend trial", {
      request: () => ({ method: "POST", path: `${base}/trial-extensions`,
        what: `Extend the ${Edition} app ${app.name} (${app.sdkappid}) by one month?` }),
      done: (a) => again(`App ${a.name} is ${a.status} until ${when(a.expires_at)}.`, true),
    }),
  ];
  if (role === "operator") {
    lifecycle.push(actionForm("delete-app", "Delete (reclaim) the app", [h("p", { class: "muted" },
      "A disabled or stopped app is reclaimed at once: its data is deleted, a tombstone kept.")], "Delete app", {
      request: () => ({ method: "DELETE", path: base,
        what: `Delete app ${app.name} (${app.sdkappid}) now? This cannot be undone.` }),
      done: (a) => again(`App ${a.name} is ${a.status}.`, true),
    }));
  }

  const inForce = (obj) => Object.entries(obj || {}).map(([k, v]) =>
    h("li", null, `${k}: ${typeof v === "object" ? Object.entries(v).map(([a, b]) => `${a} ${b === null ? "—" : b}`).join(", ") : v}`));

  append(target,
    h("h1", null, `App ${app.name}`),
    notice(message, ok),
    h("p", null, link(`#/account/${q(app.account_id)}`, `Account ${app.account_id}`)),
    section("App", facts("facts", "app-facts", [
      ["SDKAppID", String(app.sdkappid)], ["Edition", app.edition, "edition"],
      ["Status", app.status + (app.stop_reason ? ` (${app.stop_reason})` : ""), "status"],
      ["Expires", when(app.expires_at), "expires"], ["Auto-renew", yesNo(app.auto_renew), "auto-renew"],
      ["Region", app.region],
    ], "data-app"), await autoRenewButton(app, again)),
    section(`Usage this month (${ent.mau.month})`, h("ul", { id: "usage" },
      h("li", null, `MAU ${ent.mau.used} of ${ent.mau.free} free`,
        ent.mau.overage_allowed ? " (overage billed)" : " (no overage: the limit applies)"),
      h("li", null, `Push: ${usage.push.messages} messages, ${usage.push.broadcast_calls_today} broadcast calls today ` +
        `(daily quota ${usage.push.daily_quota})`),
      h("li", null, `Search: ${usage.search.stored_messages} stored messages, ${usage.search.requests} requests`),
      ...Object.entries(usage.meters || {}).map(([meter, count]) => h("li", null, `${meter}: ${count}`))),
      h("h3", null, "Plugins and add-ons in force"),
      h("ul", null, inForce(ent.plugins), inForce(ent.addons)),
    ),
    section("Orders", table([...orders.items].reverse(), [
      ["Order", (o) => o.order_id], ["Product", (o) => o.product + (o.tier ? ` ${o.tier}` : "")], ["Kind", (o) => o.kind],
      ["Months", (o) => String(o.months)], ["From", (o) => when(o.starts_at)], ["To", (o) => when(o.ends_at)],
      ["Price", (o) => o.price], ["Paid cash", (o) => o.paid_cash], ["Paid gift", (o) => o.paid_gift], ["Status", (o) => o.status],
    ], { class: "grid num", empty: "No order yet." })),
    h("div", { class: "cards" }, buy, refund, plugins, addons, ...lifecycle, ...appControls(app, again, role)),
  );
}
