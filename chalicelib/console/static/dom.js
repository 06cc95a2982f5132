// Building the page: every value goes in as a text node or an attribute, never as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const zone = () => document.querySelector('meta[name="imbill-zone"]').getAttribute("content");

const formats = new Map();
// An instant as the API gives it (ISO, UTC), shown in the billing zone with the zone named.
export function when(iso) {
  if (!iso) return "—";
  const tz = zone();
  if (!formats.has(tz)) {
    formats.set(tz, new Intl.DateTimeFormat("en-CA", {
      timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }));
  }
  const parts = Object.fromEntries(formats.get(tz).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${tz}`;
}

// A table in a wrapper that scrolls sideways on a narrow screen: columns are [heading, row => cell content].
export function table(rows, columns, opts = {}) {
  if (!rows.length) return h("p", { class: "muted" }, opts.empty || "None.");
  return h("div", { class: "scroll" }, h("table", { class: opts.class || "grid" },
    h("thead", null, h("tr", null, columns.map(([head]) => h("th", null, head)))),
    h("tbody", null, rows.map((row) => h("tr", { class: opts.rowClass ? opts.rowClass(row) : null },
      columns.map(([head, cell]) => h("td", { "data-col": head }, cell(row))))))));
}

export function section(title, ...body) {
  return h("section", { class: "card" }, h("h2", null, title), ...body);
}

export function field(label, input) {
  return h("label", { class: "field" }, h("span", null, label), input);
}

export function link(hash, text) {
  return h("a", { href: hash }, text);
}
