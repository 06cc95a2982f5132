"""The console for real work (issue 16) in headless Chromium, on the session's one `imbill serve`:
money buttons that charge once (double clicks, a lost answer retried with the same key), previews
equal to the charges, every operator action from its form checked through the API, the statement
page and its CSV, the job health after a month on the test clock, and every page at 390 x 844."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from decimal import Decimal
from typing import Any

import pytest

from tests.browser.conftest import SHOTS, Http, shot, sign_in, token

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.heavy]  # the session's server and Chromium
START = "2027-06-01T00:00:00Z"  # after test_console.py's instants: the clock only moves forward


def _clock_at_least(server: Http, at: str) -> str:
    now = server.ok("GET", "/v1/test/clock")["now"]
    if now < at:
        server.ok("PUT", "/v1/test/clock", {"now": at, "run_jobs": False})
        return at
    return now


def _size(url: str) -> int:
    with urllib.request.urlopen(url.split("#")[0]) as r:
        return len(r.read())


def _orders(server: Http, sid: int) -> list[dict[str, Any]]:
    return server.ok("GET", f"/v1/apps/{sid}/orders?limit=1000")["items"]


def _forget_notice(page: Any) -> None:
    """The answer shown last goes, so that waiting for #notice waits for the next one."""
    page.evaluate("() => document.getElementById('notice')?.remove()")


def _act(page: Any, form: str, submit: str, answer: str) -> None:
    """Submit `form`, double-click its confirmation, wait for the answer that says `answer`."""
    page.locator(f"form#{form}").get_by_role("button", name=submit, exact=True).click()
    _forget_notice(page)
    page.locator(f"#{form}-confirm").dblclick()
    page.locator("#notice").filter(has_text=answer).wait_for()


def _confirm_twice(page: Any, form: str, preview: str, confirm: str | None = None) -> None:
    """Submit `form` (its preview), then double-click its confirmation and wait for the answer."""
    _forget_notice(page)
    page.locator(f"form#{form}").get_by_role("button", name=preview, exact=True).click()
    button = page.locator(f"#{form}-confirm")
    page.locator(f"#{form}-confirm, form#{form} [role=alert]").first.wait_for()
    assert button.count() == 1, page.locator(f"form#{form} [role=alert]").all_inner_texts()
    if confirm is not None:
        assert button.inner_text().startswith(confirm), button.inner_text()
    button.dblclick()
    page.locator("#notice").wait_for()


@pytest.fixture(scope="module")
def gamma(server: Http) -> dict[str, int]:
    _clock_at_least(server, START)
    server.ok("POST", "/v1/accounts", {"account_id": "gamma", "email": "gamma@x.test", "phone": "+15550100"})
    server.ok("POST", "/v1/accounts/gamma/topups", {"amount": "20000.00", "kind": "cash"})
    sid = server.ok("POST", "/v1/accounts/gamma/apps", {"name": "g-chat", "region": "eu"})["sdkappid"]
    return {"sid": sid}


def test_each_money_button_charges_once_on_a_double_click(page, server: Http, gamma):
    sid = gamma["sid"]
    sign_in(page, server, token("customer", "gamma"))
    page.get_by_role("heading", name="Account gamma").wait_for()
    page.goto(f"{server.base}/console#/app/{sid}")
    page.get_by_role("heading", name="App g-chat").wait_for()
    assert page.locator("[data-price=edition]").inner_text().startswith("Catalog price: ")

    buy = page.locator("form#buy")  # new Standard: the catalog price, the API's preview, one order
    buy.get_by_label("Edition").select_option("standard")
    _confirm_twice(page, "buy", "Preview", "Confirm: pay")
    assert [o["kind"] for o in _orders(server, sid)] == ["new"]

    buy.get_by_label("Edition").select_option("standard")  # a renewal
    _confirm_twice(page, "buy", "Preview")
    assert [o["kind"] for o in _orders(server, sid)] == ["new", "renewal"]

    # the upgrade: its preview is what it charges
    before = server.ok("GET", "/v1/accounts/gamma")["balance"]
    buy.get_by_label("Edition").select_option("pro")
    buy.get_by_role("button", name="Preview", exact=True).click()
    preview = {k: page.locator(f"[data-preview={k}]").inner_text()
               for k in ("price", "credit", "paid_cash", "paid_gift", "amount_due", "balance_after", "kind")}
    assert preview["kind"] == "upgrade"
    shot(page, "20-upgrade-preview")
    _forget_notice(page)
    page.locator("#buy-confirm").dblclick()
    page.locator("#notice").filter(has_text="upgrade pro").wait_for()
    orders = _orders(server, sid)
    assert [o["kind"] for o in orders] == ["new", "renewal", "upgrade"]
    pro = orders[-1]
    ledger = server.ok("GET", "/v1/accounts/gamma/ledger?order=newest&limit=2")["items"]
    credit = next(e for e in ledger if e["kind"] == "credit")
    after = server.ok("GET", "/v1/accounts/gamma")["balance"]
    assert (pro["price"], pro["paid_cash"], pro["paid_gift"], credit["cash"], after["total"]) == (
        preview["price"], preview["paid_cash"], preview["paid_gift"], preview["credit"], preview["balance_after"])
    assert Decimal(before["total"]) - Decimal(after["total"]) == Decimal(preview["amount_due"])

    plugin = page.locator("form#plugin")
    plugin.get_by_label("Plugin").select_option("push")
    _confirm_twice(page, "plugin", "Preview plugin", "Confirm: pay")
    addon = page.locator("form#addon")
    addon.get_by_label("Add-on").select_option("desk")
    _confirm_twice(page, "addon", "Preview add-on", "Confirm: pay")
    assert sorted(o["product"] for o in _orders(server, sid)) == ["desk", "pro", "push", "standard", "standard"]

    refund = page.locator("form#refund")
    refund.get_by_label("Product").select_option("push")
    _confirm_twice(page, "refund", "Get refund quote", "Refund ")
    refunds = [e for e in server.ok("GET", "/v1/accounts/gamma/ledger?order=newest&limit=5")["items"]
               if e["kind"] == "refund"]
    assert len(refunds) == 1
    assert page.errors == [] and page.dialogs == []


def test_a_lost_answer_retried_uses_the_same_key_and_charges_once(page, server: Http, gamma):
    """The purchase reaches the service but its answer is lost (the browser sees a network error);
    Confirm again sends the same Idempotency-Key: the service answers the first order."""
    sid = server.ok("POST", "/v1/accounts/gamma/apps", {"name": "g-retry", "region": "eu"})["sdkappid"]
    sign_in(page, server, token("customer", "gamma"))
    page.get_by_role("heading", name="Account gamma").wait_for()
    page.goto(f"{server.base}/console#/app/{sid}")
    page.get_by_role("heading", name="App g-retry").wait_for()
    keys: list[str] = []

    def lose_the_first_answer(route: Any) -> None:
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.fetch()  # the service charges...
            route.abort("connectionreset")  # ...and the answer never arrives
        else:
            route.continue_()

    page.route("**/v1/apps/*/purchases", lose_the_first_answer)
    before = len(_orders(server, sid))
    page.locator("form#buy").get_by_label("Edition").select_option("pro")
    page.locator("form#buy").get_by_role("button", name="Preview", exact=True).click()
    page.locator("#buy-confirm").click()
    page.locator("form#buy").get_by_role("alert").filter(has_text="network_error").wait_for()
    assert len(_orders(server, sid)) == before + 1
    page.locator("#buy-confirm").click()  # the retry
    page.locator("#notice").filter(has_text="Order").wait_for()
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) == 32
    assert len(_orders(server, sid)) == before + 1


def test_operator_actions_from_their_forms(page, server: Http, gamma):
    now = _clock_at_least(server, START)
    sign_in(page, server, token("operator"))
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.get_by_role("link", name="Accounts").click()
    form = page.locator("form#create-account")
    form.get_by_label("Account id").fill("delta")
    form.get_by_label("E-mail").fill("delta@x.test")
    form.get_by_label("Phone").fill("+15550199")
    form.get_by_role("button", name="Create account").click()
    page.locator("#create-account-confirm").dblclick()
    page.get_by_role("heading", name="Account delta").wait_for()
    assert server.ok("GET", "/v1/accounts/delta")["email"] == "delta@x.test"

    for amount, kind in (("1200.00", "cash"), ("30.00", "gift")):
        topup = page.locator("form#topup")
        topup.get_by_label("Amount").fill(amount)
        topup.get_by_label("Kind").select_option(kind)
        _act(page, "topup", "Top up", f"Topped up {amount} {kind}")
    assert server.ok("GET", "/v1/accounts/delta")["balance"] == {"cash": "1200.00", "gift": "30.00", "total": "1230.00"}

    voucher = page.locator("form#voucher")
    voucher.get_by_label("Amount").fill("25.00")
    _act(page, "voucher", "Grant voucher", "Voucher")
    assert [v["amount"] for v in server.ok("GET", "/v1/accounts/delta/vouchers")["items"]] == ["25.00"]

    for name in ("d-trial", "d-gone"):
        create = page.locator("form#create-app")
        create.get_by_label("Name").fill(name)
        _act(page, "create-app", "Create app", f"App {name} created")
    apps = {a["name"]: a for a in server.ok("GET", "/v1/accounts/delta/apps")["items"]}
    assert set(apps) == {"d-trial", "d-gone"}
    shot(page, "21-operator-account-actions")

    # d-gone: bought, refunded (disabled), then deleted from its page
    gone = apps["d-gone"]["sdkappid"]
    server.ok("POST", f"/v1/apps/{gone}/purchases", {"edition": "standard", "months": 1})
    server.ok("POST", f"/v1/apps/{gone}/refunds", {})
    page.goto(f"{server.base}/console#/app/{gone}")
    page.get_by_role("heading", name="App d-gone").wait_for()
    _act(page, "delete-app", "Delete app", "reclaimed")
    assert server.ok("GET", f"/v1/apps/{gone}")["status"] == "reclaimed"

    # d-trial: its Developer month runs out, the operator extends it
    trial = apps["d-trial"]["sdkappid"]
    expired = server.ok("GET", f"/v1/apps/{trial}")["expires_at"]
    server.ok("PUT", "/v1/test/clock", {"now": expired, "run_jobs": False})
    page.goto(f"{server.base}/console#/app/{trial}")
    page.get_by_role("heading", name="App d-trial").wait_for()
    _act(page, "extend-trial", "Extend trial", "enabled until")
    assert server.ok("GET", f"/v1/apps/{trial}")["expires_at"] > expired

    # a job run as of an instant, from the dashboard
    page.get_by_role("link", name="Dashboard").click()
    run = page.locator("form#run-job")
    run.get_by_label("Job").select_option("expiry-warnings")
    run.get_by_label("As of (ISO instant)").fill(expired)
    _act(page, "run-job", "Run job", "Ran expiry-warnings")
    runs = server.ok("GET", "/v1/ops/job-runs?job=expiry-warnings&limit=50")["items"]
    assert any(r["at"] == expired for r in runs)
    assert now <= expired
    assert page.errors == [] and page.dialogs == []


def test_statement_page_and_its_csv_add_up(page, server: Http, gamma):
    month = server.ok("GET", "/v1/test/clock")["now"][:7]  # Asia/Shanghai: the local month of the last moves
    ledger = server.ok("GET", "/v1/accounts/gamma/ledger?order=newest&limit=1")["items"]
    sign_in(page, server, token("operator"))
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.goto(f"{server.base}/console#/account/gamma")
    page.get_by_role("heading", name="Account gamma").wait_for()
    shown_month = page.locator("form#statement-open input[name=month]").input_value()
    page.locator("form#statement-open").get_by_role("button", name="Open statement").click()
    page.get_by_role("heading", name=f"Statement {shown_month}: account gamma").wait_for()
    closing = page.locator("[data-statement=closing]").inner_text()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    text = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115
    rows = list(csv.DictReader(io.StringIO(text)))
    opening = next(r for r in rows if r["record"] == "opening")
    last = next(r for r in rows if r["record"] == "closing")
    balance = server.ok("GET", "/v1/accounts/gamma")["balance"]
    for kind in ("cash", "gift"):
        total = Decimal(opening[f"balance_{kind}"]) + sum(Decimal(r[kind]) for r in rows if r["record"] == "entry")
        assert total == Decimal(last[f"balance_{kind}"]) == Decimal(balance[kind])
    assert closing.startswith(balance["total"])
    assert ledger and month
    page.emulate_media(media="print")
    shot(page, "22-statement-print")
    page.emulate_media(media="screen")


def test_job_health_after_a_month_and_every_page_at_390_px(browser, server: Http, gamma):
    now = server.ok("GET", "/v1/test/clock")["now"]
    server.ok("POST", "/v1/test/clock/advance", {"days": 31})
    health = server.ok("GET", "/v1/ops/job-health")["items"]
    assert all(h["status"] == "ok" and h["last_run"] > now for h in health
               if h["job"] != "monthly-settlement"), health
    sid = gamma["sid"]
    month = server.ok("GET", "/v1/test/clock")["now"][:7]
    # the operator's pages show delta (made by the operator-actions test; made here when run alone)
    server.call("POST", "/v1/accounts", {"account_id": "delta", "email": "delta@x.test", "phone": "+15550199"})
    weights: dict[str, int] = {}
    for role, account, pages in (
        ("operator", None, [("sign-in", None), ("dashboard", "#/dashboard"), ("accounts", "#/accounts"),
                            ("account", "#/account/gamma"), ("statement", f"#/statement/gamma/{month}")]),
        ("customer", "gamma", [("customer-account", "#/account/gamma"), ("customer-app", f"#/app/{sid}")]),
    ):
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        context.set_default_timeout(90_000)
        pg = context.new_page()
        loaded: list[str] = []
        pg.on("response", lambda r, loaded=loaded: loaded.append(r.url) if "/console" in r.url else None)
        signed_in = False
        for name, hash_ in pages:
            if hash_ is None:
                pg.goto(server.base + "/console")
                pg.get_by_label("Access token").wait_for()
            else:
                if not signed_in:
                    sign_in(pg, server, token(role, account))
                    pg.locator("#page").wait_for()
                    signed_in = True
                loaded.clear()
                pg.goto(f"{server.base}/console{hash_}")
                pg.reload()  # a cold load of the page: its HTML, JS and CSS
                pg.locator("#page h1").first.wait_for()
                pg.wait_for_load_state("networkidle")
            if name == "dashboard":
                pg.locator("#job-health [data-health=expiry-enforcement]").wait_for()
                assert pg.locator("#job-health").get_by_text("late").count() == 0
            width = pg.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"{name}: the page is {width} px wide at 390"
            shot(pg, f"390-{name}")
            weights[name] = sum(_size(url) for url in set(loaded))
        context.close()
    (SHOTS.parent / "page-weights.json").write_text(json.dumps(weights, indent=2))
    assert all(0 < w < 200_000 for w in weights.values()), weights
