// An account (operator or its customer) and one app: balance, ledger, apps, orders, bills, usage,
// notifications; buy, renew, upgrade, refund after a quote, plugins, add-ons, auto-renew.
import { call, get, q, words } from "./api.js";
import { append, clear, field, h, link, section, table, when } from "./dom.js";

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

async function autoRenewButton(app, after) {
  const b = h("button", { type: "button", class: "toggle", "data-app": app.sdkappid },
    `Turn auto-renew ${app.auto_renew ? "off" : "on"}`);
  b.addEventListener("click", async () => {
    try {
      const out = await call("PUT", `/v1/apps/${q(app.sdkappid)}/auto-renew`, { enabled: !app.auto_renew });
      after(`Auto-renew of ${out.name} is ${yesNo(out.auto_renew)}.`, true);
    } catch (err) {
      after(words(err), false);
    }
  });
  return b;
}

export async function accountPage(target, accountId, role, message, ok) {
  const again = (m, good) => accountPage(clear(target), accountId, role, m, good);
  const base = `/v1/accounts/${q(accountId)}`;
  const [acct, apps, ledger, bills, notes] = await Promise.all([
    get(base), get(`${base}/apps?limit=100`), get(`${base}/ledger?limit=1000`),
    get(`${base}/bills?limit=100`), get(`${base}/notifications?limit=1000`),
  ]);
  const toggles = await Promise.all(apps.items.map((a) => autoRenewButton(a, again)));
  append(target,
    h("h1", null, `Account ${acct.account_id}`),
    notice(message, ok),
    section("Balance", balanceBox(acct.balance),
      h("p", null, `Status: ${acct.status}`, acct.arrears_since ? ` since ${when(acct.arrears_since)}` : "",
        ` · ${acct.email} · ${acct.phone}`)),
    section("Apps", table(apps.items, [
      ["Name", appLink], ["SDKAppID", (a) => String(a.sdkappid)], ["Edition", (a) => a.edition],
      ["Status", (a) => a.status + (a.stop_reason ? ` (${a.stop_reason})` : "")],
      ["Expires", (a) => when(a.expires_at)], ["Auto-renew", (a) => yesNo(a.auto_renew)],
      ["", (a) => toggles[apps.items.indexOf(a)]],
    ], { empty: "No app yet.", class: "grid", })),
    section("Ledger (newest first)", table([...ledger.items].reverse(), [
      ["At", (e) => when(e.at)], ["Kind", (e) => e.kind], ["Cash", (e) => e.cash], ["Gift", (e) => e.gift],
      ["Balance cash", (e) => e.balance_cash], ["Balance gift", (e) => e.balance_gift], ["Ref", (e) => e.ref || "—"],
    ], { class: "grid num ledger", empty: "No ledger entry yet." })),
    section("Bills", bills.items.length ? bills.items.map((b) => h("div", { class: "bill" },
      h("h3", null, `${b.kind} bill ${b.period}: ${b.total}`, h("span", { class: "muted" }, ` posted ${when(b.posted_at)}`)),
      table(b.lines, [
        ["SDKAppID", (l) => String(l.sdkappid)], ["Item", (l) => l.item], ["Quantity", (l) => String(l.quantity)],
        ["Unit price", (l) => l.unit_price], ["Amount", (l) => l.amount],
      ], { class: "grid num" }))) : h("p", { class: "muted" }, "No bill yet.")),
    section("Notifications", table([...notes.items].reverse(), [
      ["At", (n) => when(n.at)], ["Kind", (n) => n.kind], ["To", (n) => `${n.channel} ${n.to}`],
      ["Subject", (n) => n.subject], ["Status", (n) => n.status || "sent"],
    ], { empty: "No notification yet." })),
  );
}

function form(id, title, controls, submit, onsubmit) {
  const status = h("div", { class: "result" });
  const el = h("form", { class: "card action", id }, h("h2", null, title), ...controls,
    h("button", { type: "submit" }, submit), status);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status);
    try {
      await onsubmit(status);
    } catch (err) {
      status.append(h("p", { class: "error", role: "alert" }, words(err)));
    }
  });
  return el;
}

const select = (name, options, value) => h("select", { name },
  options.map(([v, t]) => h("option", { value: v, selected: v === value }, t)));
const months = () => h("input", { name: "months", type: "number", min: 1, max: 24, value: 1, required: true });

// what can be bought comes from the catalog in force (GET /v1/catalog): a new product needs no change here
const title = (name) => name.charAt(0).toUpperCase() + name.slice(1);
const forSale = (group) => Object.entries(group).filter(([, p]) => p.purchasable).map(([name]) => [name, title(name)]);
const tiersOf = (cat, addon) => Object.keys(cat.addons[addon].tiers).map((t) => [t, t.replace(/_/g, " ")]);

function bought(out) {
  const o = out.order;
  return `Order ${o.order_id}: ${o.kind} ${o.product} for ${o.months} month(s), price ${o.price}, ` +
    `voucher ${o.voucher_amount}, paid cash ${o.paid_cash} gift ${o.paid_gift}` +
    (out.credit ? `, credit ${out.credit.total}` : "") + `. Balance now ${out.balance.total}.`;
}

export async function appPage(target, sdkappid, role, message, ok) {
  const again = (m, good) => appPage(clear(target), sdkappid, role, m, good);
  const base = `/v1/apps/${q(sdkappid)}`;
  const [app, ent, orders] = await Promise.all([get(base), get(`${base}/entitlements`), get(`${base}/orders?limit=100`)]);
  const [usage, vouchers, cat] = await Promise.all([
    get(`${base}/usage?month=${q(ent.mau.month)}`),
    get(`/v1/accounts/${q(app.account_id)}/vouchers?limit=100`),
    get("/v1/catalog"),
  ]);
  const free = vouchers.items.filter((v) => !v.used_by_order);
  const products = [app.edition !== "developer" ? [app.edition, `${app.edition} edition`] : null,
    ...Object.keys(ent.plugins || {}).map((p) => [p, `${p} plugin`]),
    ...Object.keys(ent.addons || {}).map((p) => [p, `${p} add-on`])].filter(Boolean);

  const editions = forSale(cat.editions);
  const buyEdition = select("edition", editions,
    editions.some(([e]) => e === app.edition) ? app.edition : (editions.length ? editions[0][0] : ""));
  const buyMonths = months();
  const voucher = select("voucher_id", [["", "no voucher"], ...free.map((v) => [v.voucher_id, `${v.voucher_id} (${v.amount})`])], "");
  const autoRenew = h("input", { type: "checkbox", name: "auto_renew", checked: app.auto_renew });
  const buy = form("buy", "Buy, renew or upgrade an edition", [
    field("Edition", buyEdition), field("Months", buyMonths), field("Voucher", voucher), field("Auto-renew", autoRenew),
  ], "Buy", async () => {
    const body = { edition: buyEdition.value, months: Number(buyMonths.value), auto_renew: autoRenew.checked };
    if (voucher.value) body.voucher_id = voucher.value;
    again(bought(await call("POST", `${base}/purchases`, body)), true);
  });

  const product = select("product", products, products.length ? products[0][0] : "");
  const refund = form("refund", "Refund", [field("Product", product)], "Get refund quote", async (status) => {
    const quote = await get(`${base}/refund-quote?product=${q(product.value)}`);
    const confirm = h("button", { type: "button", id: "confirm-refund" }, `Refund ${quote.total} now`);
    confirm.addEventListener("click", async () => {
      try {
        const out = await call("POST", `${base}/refunds`, { product: quote.product });
        again(`Refunded ${out.refund.total} (cash ${out.refund.cash}, gift ${out.refund.gift}). ` +
          `Balance now ${out.balance.total}.`, true);
      } catch (err) {
        status.append(h("p", { class: "error", role: "alert" }, words(err)));
      }
    });
    append(status, h("dl", { class: "quote", id: "quote" },
      ["current_amount", "not_started_amount", "used_value", "total", "cash", "gift"].flatMap((k) =>
        [h("dt", null, k.replace(/_/g, " ")), h("dd", { "data-quote": k }, quote[k])])),
    h("p", null, `Quoted ${when(quote.at)} for ${quote.product}.`), confirm);
  });

  const pluginNames = forSale(cat.plugins);
  const plugin = select("plugin", pluginNames, pluginNames.length ? pluginNames[0][0] : "");
  const pluginMonths = months();
  const plugins = form("plugin", "Buy a plugin", [field("Plugin", plugin), field("Months", pluginMonths)], "Buy plugin",
    async () => again(bought(await call("POST", `${base}/plugins`,
      { plugin: plugin.value, months: Number(pluginMonths.value) })), true));

  const addonNames = forSale(cat.addons);
  const addon = select("addon", addonNames, addonNames.length ? addonNames[0][0] : "");
  const tier = select("tier", addonNames.length ? tiersOf(cat, addonNames[0][0]) : [], "");
  addon.addEventListener("change", () => append(clear(tier),
    tiersOf(cat, addon.value).map(([v, t]) => h("option", { value: v }, t))));
  const quantity = h("input", { name: "quantity", type: "number", min: 1, max: 100000, placeholder: "default" });
  const addonMonths = months();
  const addons = form("addon", "Buy an add-on", [field("Add-on", addon), field("Tier", tier), field("Quantity", quantity),
    field("Months", addonMonths)], "Buy add-on", async () => {
    const body = { addon: addon.value, months: Number(addonMonths.value) };
    if (tier.value) body.tier = tier.value;
    if (quantity.value) body.quantity = Number(quantity.value);
    again(bought(await call("POST", `${base}/addons`, body)), true);
  });

  const inForce = (obj) => Object.entries(obj || {}).map(([k, v]) =>
    h("li", null, `${k}: ${typeof v === "object" ? Object.entries(v).map(([a, b]) => `${a} ${b === null ? "—" : b}`).join(", ") : v}`));

  append(target,
    h("h1", null, `App ${app.name}`),
    notice(message, ok),
    h("p", null, link(`#/account/${q(app.account_id)}`, `Account ${app.account_id}`)),
    section("App", h("dl", { class: "facts", id: "app-facts" },
      h("dt", null, "SDKAppID"), h("dd", null, String(app.sdkappid)),
      h("dt", null, "Edition"), h("dd", { "data-app": "edition" }, app.edition),
      h("dt", null, "Status"), h("dd", { "data-app": "status" }, app.status + (app.stop_reason ? ` (${app.stop_reason})` : "")),
      h("dt", null, "Expires"), h("dd", { "data-app": "expires" }, when(app.expires_at)),
      h("dt", null, "Auto-renew"), h("dd", { "data-app": "auto-renew" }, yesNo(app.auto_renew)),
      h("dt", null, "Region"), h("dd", null, app.region)),
      await autoRenewButton(app, again)),
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
    h("div", { class: "cards" }, buy, refund, plugins, addons),
  );
}
