// Forms that create something or move money, so that no click, double click or retry acts twice.
//
//   moneyForm(form, { request, review, done, status })
//
// - request(): what the form's values ask for, read when it is submitted: { method, path, body, what }
//   (`what`, words for the confirmation; throw an Error to refuse the values).
// - review(req): optional, async: what the submission will do before it is confirmed (a price, a
//   preview from the API). Answers nodes, or { show: nodes, confirm: "button text" }. Without it
//   the confirmation shows `what`. Every submission is confirmed with its own button.
// - done(answer, req): shows the answer, called once per successful submission.
// - status: where the review, the errors and the answer go (default: a div at the end of the form).
//
// One Idempotency-Key per submission: it is made when the request is first sent and kept across
// retries of the same request (a network error, a 5xx, a refusal then Confirm again all reuse it,
// so the service answers the first result instead of acting again); a new key only after a
// successful answer or when the form's values (hence the request) change. While a request is out
// the form's buttons are disabled and a second submit is ignored. Changing a value drops the review.
import { call, words } from "./api.js";
import { append, clear, h } from "./dom.js";

export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The key of a request: the same while the request is the same and has not succeeded.
export function keyring() {
  let pending = null; // { fingerprint, key }
  return {
    keyFor(req) {
      const fingerprint = JSON.stringify([req.method, req.path, req.body === undefined ? null : req.body]);
      if (!pending || pending.fingerprint !== fingerprint) pending = { fingerprint, key: newKey() };
      return pending.key;
    },
    succeeded() { pending = null; },
  };
}

const alert = (text) => h("p", { class: "error", role: "alert" }, text);

export function moneyForm(form, { request, review, done, status }) {
  const out = status || form.appendChild(h("div", { class: "result" }));
  const keys = keyring();
  const submit = form.querySelector("button[type=submit]");
  let busy = false;
  let confirm = null;

  const hold = (on) => {
    busy = on;
    for (const b of [submit, confirm]) if (b) b.disabled = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
  };

  async function send(req) {
    if (busy) return;
    hold(true);
    const key = keys.keyFor(req);
    let answer;
    try {
      answer = await call(req.method, req.path, req.body, { key });
    } catch (err) {
      hold(false);
      for (const old of out.querySelectorAll("p.error")) old.remove();
      out.append(alert(`${words(err)}${err.status === 0 || err.status >= 500 ? " (Confirm again retries it safely)" : ""}`));
      return;
    }
    keys.succeeded();
    clear(out);
    confirm = null;
    hold(false);
    done(answer, req);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    clear(out);
    confirm = null;
    let req;
    try {
      req = request();
    } catch (err) {
      out.append(alert(words(err)));
      return;
    }
    hold(true);
    let shown;
    try {
      shown = review ? await review(req) : [h("p", null, req.what)];
    } catch (err) {
      hold(false);
      out.append(alert(words(err)));
      return;
    }
    hold(false);
    const view = Array.isArray(shown) || shown instanceof Node ? { show: shown } : shown;
    confirm = h("button", { type: "button", class: "confirm", id: `${form.id}-confirm` }, view.confirm || "Confirm");
    confirm.addEventListener("click", () => send(req));
    append(clear(out), view.show, confirm);
  });
  form.addEventListener("input", () => { if (!busy && confirm) { clear(out); confirm = null; } });
  form.addEventListener("change", () => { if (!busy && confirm) { clear(out); confirm = null; } });
  return { send };
}

// A card form with its controls and a submit button, wired by moneyForm (confirmed, sent once).
export function actionForm(id, title, controls, submit, options) {
  const el = h("form", { class: "card action", id }, h("h2", null, title), ...controls,
    h("button", { type: "submit" }, submit));
  moneyForm(el, options);
  return el;
}
