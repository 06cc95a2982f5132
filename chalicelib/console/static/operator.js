// Operator pages: the dashboard (revenue, arrears, due work, job health and runs, failed notifications;
// run a job as of an instant, retry a notification) and the account search (create an account).
import { get, q, words } from "./api.js";
import { append, clear, field, h, link, section, table, when } from "./dom.js";
import { actionForm, moneyForm } from "./forms.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// Revenue by month as bars of `net` (an amount string from the API, drawn to scale, labelled as given).
export function revenueChart(months) {
  const width = 720, height = 220, pad = 36, base = height - 40;
  const values = months.map((m) => Number(m.net));
  const top = Math.max(1, ...values.map(Math.abs));
  const hasNegative = values.some((v) => v < 0);
  const zeroY = hasNegative ? pad + (base - pad) / 2 : base;
  const scale = (hasNegative ? (base - pad) / 2 : base - pad) / top;
  const step = (width - 2 * pad) / Math.max(1, months.length);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": "Net revenue by month" });
  chart.append(svg("line", { x1: pad, x2: width - pad, y1: zeroY, y2: zeroY, class: "axis" }));
  months.forEach((m, i) => {
    const v = values[i];
    const barH = Math.abs(v) * scale;
    const x = pad + i * step + step * 0.15;
    const y = v >= 0 ? zeroY - barH : zeroY;
    const bar = svg("rect", { x, y, width: step * 0.7, height: Math.max(barH, 0.5), class: v < 0 ? "bar neg" : "bar" });
    bar.append(svg("title", {}, `${m.month}: net ${m.net}`));
    chart.append(bar);
    chart.append(svg("text", { x: x + step * 0.35, y: height - 22, class: "label" }, m.month.slice(2)));
    if (v !== 0) chart.append(svg("text", { x: x + step * 0.35, y: v >= 0 ? y - 4 : y + barH + 12, class: "value" }, m.net));
  });
  return chart;
}

async function part(title, load, render, id) {
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const card = section(title, body);
  if (id) card.id = id;
  load().then((data) => append(clear(body), [render(data)]))
    .catch((err) => append(clear(body), [h("p", { class: "error", role: "alert" }, words(err))]));
  return card;
}

const accountLink = (id) => link(`#/account/${q(id)}`, id);
const appLink = (sid) => link(`#/app/${q(sid)}`, String(sid));

// One button that sends one request once (forms.js), confirmed first.
function oneShot(id, label, req, done) {
  const form = h("form", { class: "oneshot", id }, h("button", { type: "submit" }, label));
  moneyForm(form, { request: () => req, done });
  return form;
}

const statusCell = (j) => h("span", { class: j.status === "ok" ? "ok" : "error", "data-health": j.job }, j.status);

export async function dashboardPage(target, message) {
  const again = (m) => dashboardPage(clear(target), m);
  target.append(h("h1", null, "Dashboard"));
  if (message) target.append(h("p", { class: "ok", role: "status", id: "notice" }, message));
  const grid = h("div", { class: "cards" });
  target.append(grid);
  let clock = null;
  try {
    clock = (await get("v1/test/clock")).now;
  } catch {
    clock = null; // no test clock: the service runs on the real one
  }
  const jobs = (await get("v1/ops/job-health")).items;
  const job = h("select", { name: "job" }, jobs.map((j) => h("option", { value: j.job }, j.job)));
  const at = h("input", { name: "at", required: true, value: clock || new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    placeholder: "2026-05-01T02:00:00Z" });
  const runJob = actionForm("run-job", "Run a job as of an instant", [field("Job", job), field("As of (ISO instant)", at)],
    "Run job", {
      request: () => ({ method: "POST", path: `v1/jobs/${q(job.value)}/runs`, body: { at: at.value.trim() },
        what: `Run ${job.value} as of ${at.value.trim()}?` }),
      done: (r) => again(`Ran ${r.job} as of ${when(r.at)}: ${Object.entries(r.summary).map(([k, v]) => `${k} ${v}`).join(", ") || "nothing due"}` +
        `, failed ${r.failed}.`),
    });
  const cards = await Promise.all([
    part("Revenue by month", () => get("v1/ops/revenue"), (data) => [
      revenueChart(data.items),
      table(data.items, [
        ["Month", (m) => m.month], ["Prepaid sales", (m) => m.prepaid_sales], ["Refunds", (m) => m.refunds],
        ["Credits", (m) => m.credits], ["Postpaid bills", (m) => m.postpaid_bills], ["Net", (m) => m.net],
      ], { class: "grid num", empty: "No revenue yet." }),
    ]),
    part("Job health", async () => jobs, (items) =>
      table(items, [
        ["Job", (j) => j.job], ["Status", statusCell], ["Last run", (j) => when(j.last_run)],
        ["Runs that day", (j) => String(j.runs)], ["Acted on", (j) => String(j.acted)], ["Next due", (j) => when(j.next_due)],
        ["Schedule (UTC)", (j) => j.schedule],
      ], { rowClass: (j) => (j.status === "ok" ? null : "bad") }), "job-health"),
    part("Accounts in arrears", () => get("v1/accounts?status=arrears&limit=20"), (data) =>
      table(data.items, [
        ["Account", (a) => accountLink(a.account_id)], ["E-mail", (a) => a.email],
        ["Since", (a) => when(a.arrears_since)], ["Balance", (a) => a.balance.total],
      ], { empty: "No account is in arrears." })),
    part("Due work, next 7 days", () => get("v1/ops/due?limit=50"), (data) =>
      table(data.items, [
        ["Job", (d) => d.job], ["Due", (d) => when(d.due_at)],
        ["What", (d) => (d.sdkappid !== undefined && d.sdkappid !== null ? appLink(d.sdkappid) : accountLink(d.account_id))],
        ["Reason", (d) => d.reason],
      ], { empty: "Nothing due in the next 7 days." })),
    part("Last job runs", () => get("v1/ops/job-runs?limit=20"), (data) =>
      table(data.items, [
        ["Job", (r) => r.job], ["As of", (r) => when(r.at)], ["Finished", (r) => when(r.finished_at)],
        ["Summary", (r) => Object.entries(r.summary).map(([k, v]) => `${k} ${v}`).join(", ")],
        ["Failed", (r) => String(r.failed)],
      ], { empty: "No job has acted yet (idle runs are in Job health).", rowClass: (r) => (r.failed ? "bad" : null) })),
    part("Failed notifications", () => get("v1/ops/notifications?status=failed&limit=50"), (data) =>
      table(data.items, [
        ["Account", (n) => accountLink(n.account_id)], ["At", (n) => when(n.at)], ["Kind", (n) => n.kind],
        ["To", (n) => `${n.channel} ${n.to}`], ["Attempts", (n) => String(n.attempts)],
        ["Last error", (n) => n.last_error || "—"],
        ["", (n) => oneShot(`retry-${data.items.indexOf(n)}`, "Retry", {
          method: "POST", path: "v1/ops/notifications/retries",
          body: { account_id: n.account_id, notification_id: n.notification_id },
          what: `Send the ${n.kind} ${n.channel} to ${n.to} again?` },
        (out) => again(`Notification to ${out.to}: ${out.status}.`))],
      ], { empty: "No failed notification." })),
  ]);
  grid.append(runJob, ...cards);
}

export async function accountsPage(target, params) {
  const qInput = h("input", { name: "q", value: params.get("q") || "", placeholder: "id or e-mail prefix" });
  const status = h("select", { name: "status" },
    [["", "any status"], ["active", "active"], ["arrears", "arrears"]].map(([v, t]) =>
      h("option", { value: v, selected: (params.get("status") || "") === v }, t)));
  const form = h("form", { class: "inline", id: "account-search" }, field("Search", qInput), field("Status", status),
    h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const p = new URLSearchParams();
    if (qInput.value.trim()) p.set("q", qInput.value.trim());
    if (status.value) p.set("status", status.value);
    location.hash = `#/accounts?${p}`;
  });
  const results = h("div", { id: "results" });
  const id = h("input", { name: "account_id", required: true, maxlength: 128 });
  const email = h("input", { name: "email", type: "email", required: true });
  const phone = h("input", { name: "phone", required: true, placeholder: "+15550100" });
  const create = actionForm("create-account", "Create an account", [field("Account id", id), field("E-mail", email),
    field("Phone", phone)], "Create account", {
    request: () => ({ method: "POST", path: "v1/accounts",
      body: { account_id: id.value.trim(), email: email.value.trim(), phone: phone.value.trim() },
      what: `Create the account ${id.value.trim()} (${email.value.trim()}, ${phone.value.trim()})?` }),
    done: (a) => { location.hash = `#/account/${q(a.account_id)}`; },
  });
  target.append(h("h1", null, "Accounts"), form, results, h("div", { class: "cards" }, create));
  const api = new URLSearchParams({ limit: "25" });
  if (params.get("q")) api.set("q", params.get("q"));
  if (params.get("status")) api.set("status", params.get("status"));
  const show = async (token) => {
    if (token) api.set("next_token", token);
    const data = await get(`v1/accounts?${api}`);
    results.append(table(data.items, [
      ["Account", (a) => accountLink(a.account_id)], ["E-mail", (a) => a.email], ["Status", (a) => a.status],
      ["Balance", (a) => a.balance.total], ["Apps", (a) => String(a.apps_count)], ["Created", (a) => when(a.created_at)],
    ], { empty: "No account matches." }));
    if (data.next_token) {
      const more = h("button", { type: "button", class: "more" }, "More");
      more.addEventListener("click", () => { more.remove(); show(data.next_token).catch((e) => results.append(
        h("p", { class: "error", role: "alert" }, words(e)))); });
      results.append(more);
    }
  };
  await show(null);
}
