"""Operators and customers through the console in headless Chromium (see conftest.py)."""

from __future__ import annotations

import re
import time
import urllib.request
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Http, shot, sign_in, token

XSS = "<img src=x onerror=alert(1)>"
pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.heavy]  # one server and one Chromium for the module


@pytest.fixture(scope="module")
def seeded(server: Http) -> dict[str, int]:
    """acme with a Standard app and an app named like an attack; beta in arrears-free; a job run."""
    server.ok("PUT", "/v1/test/clock", {"now": "2027-02-01T00:00:00Z", "run_jobs": False})
    for account, cash in (("acme", "3000.00"), ("beta", "100.00")):
        server.ok("POST", "/v1/accounts", {"account_id": account, "email": f"{account}@x.test", "phone": "+15550100"})
        server.ok("POST", f"/v1/accounts/{account}/topups", {"amount": cash, "kind": "cash"})
    chat = server.ok("POST", "/v1/accounts/acme/apps", {"name": "chat", "region": "eu"})["sdkappid"]
    evil = server.ok("POST", "/v1/accounts/acme/apps", {"name": XSS, "region": "eu"})["sdkappid"]
    other = server.ok("POST", "/v1/accounts/beta/apps", {"name": "beta-app", "region": "eu"})["sdkappid"]
    server.ok("POST", f"/v1/apps/{chat}/purchases", {"edition": "standard", "months": 1})
    server.ok("PUT", "/v1/test/clock", {"now": "2027-02-25T00:00:00Z", "run_jobs": False})  # expiry in 4 days
    server.ok("POST", "/v1/jobs/expiry-warnings/runs", {"at": "2027-02-24T01:00:00Z"})
    for path in ("/v1/ops/due", "/v1/ops/job-runs", "/v1/ops/revenue", "/v1/accounts?status=arrears"):
        server.ok("GET", path)  # warm the server's connections once
    return {"chat": chat, "evil": evil, "other": other}


def _no_token_in_urls(page, tok: str) -> None:
    assert tok not in page.url
    assert all(tok not in url for url in page.requests), "the token went into a URL"
    assert page.context.cookies() == []
    assert page.evaluate("() => Object.keys(localStorage).length") == 0
    assert page.evaluate("() => sessionStorage.getItem('imbill.token')") == tok


def test_console_headers_and_weights(server: Http):
    with urllib.request.urlopen(server.base + "/console") as r:
        csp = r.headers["Content-Security-Policy"]
        html = r.read()
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert b"<script>" not in html and b"Asia/Shanghai" in html
    total = len(html)
    for name in ("app.js", "api.js", "dom.js", "forms.js", "operator.js", "account.js", "console.css", "favicon.svg"):
        with urllib.request.urlopen(f"{server.base}/console/static/{name}") as r:
            total += len(r.read())
    assert total < 200_000, f"console weighs {total} bytes"
    for bad in ("..%2Fapp.py", "index.html", "nope.js"):
        try:
            urllib.request.urlopen(f"{server.base}/console/static/{bad}")
            raise AssertionError(bad)
        except urllib.error.HTTPError as err:
            assert err.code == 404


def test_sign_in_rejects_a_bad_token(page, server: Http):
    page.goto(server.base + "/console")
    shot(page, "01-sign-in")
    page.get_by_label("Access token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="HTTP 401").wait_for()
    assert page.evaluate("() => sessionStorage.getItem('imbill.token')") is None


def test_operator_walks_dashboard_search_and_account(page, server: Http, seeded):
    tok = token("operator")
    sign_in(page, server, tok)
    page.get_by_role("heading", name="Dashboard").wait_for()
    # the purchase reaches the revenue view through the stream poller within seconds
    month = "2027-02"
    deadline = time.monotonic() + 20
    while server.ok("GET", f"/v1/ops/revenue?from={month}&to={month}")["items"][0]["prepaid_sales"] == "0.00":
        assert time.monotonic() < deadline, "revenue view did not catch up"
        time.sleep(0.2)
    page.reload()
    page.locator("svg.chart rect.bar").first.wait_for()
    page.locator("section", has=page.get_by_role("heading", name="Last job runs")).get_by_text(
        "expiry-warnings").first.wait_for()
    revenue = page.locator("section", has=page.get_by_role("heading", name="Revenue by month"))
    want = server.ok("GET", "/v1/ops/revenue")["items"]
    march = next(m for m in want if m["month"] == month)
    assert revenue.locator("tr", has_text=month).locator("td").nth(1).inner_text() == march["prepaid_sales"]
    page.locator("section", has=page.get_by_role("heading", name="Due work, next 7 days")).get_by_text(
        "expiry: stop 24 h after").first.wait_for()
    shot(page, "02-operator-dashboard")

    page.get_by_role("link", name="Accounts").click()
    page.get_by_label("Search").fill("ac")
    page.get_by_role("button", name="Search").click()
    page.locator("#results").get_by_role("link", name="acme").wait_for()
    # the page listed every account before the search: wait until the results are the search's
    expect(page.locator("#results").get_by_text("beta")).to_have_count(0)
    shot(page, "03-operator-account-search")
    page.locator("#results").get_by_role("link", name="acme").click()
    page.get_by_role("heading", name="Account acme").wait_for()
    balance = server.ok("GET", "/v1/accounts/acme")["balance"]
    assert page.locator("[data-balance=total]").inner_text() == balance["total"]
    # instants in the billing zone, the zone named
    assert page.get_by_text(re.compile(r"2027-03-01 08:00 Asia/Shanghai")).count() > 0
    shot(page, "04-operator-account")
    _no_token_in_urls(page, tok)
    assert page.dialogs == [] and page.errors == []


def test_customer_buys_and_refunds_through_the_forms(page, server: Http, seeded):
    tok = token("customer", "acme")
    sign_in(page, server, tok)
    page.get_by_role("heading", name="Account acme").wait_for()
    shot(page, "05-customer-account")
    page.get_by_role("link", name="chat", exact=True).click()
    page.get_by_role("heading", name="App chat").wait_for()
    assert page.locator("#usage").get_by_text("MAU 0 of 10000 free").count() == 1
    shot(page, "06-customer-app")

    before = server.ok("GET", "/v1/accounts/acme")["balance"]
    buy = page.locator("form#buy")
    buy.get_by_label("Edition").select_option("pro")
    buy.get_by_label("Months").fill("2")
    buy.get_by_role("button", name="Preview", exact=True).click()
    page.locator("#buy-confirm").click()
    page.locator("#notice").filter(has_text="Order").wait_for()
    after = server.ok("GET", "/v1/accounts/acme")["balance"]
    assert Decimal(after["total"]) < Decimal(before["total"])
    assert after["total"] in page.locator("#notice").inner_text()
    assert page.locator("[data-app=edition]").inner_text() == "pro"
    shot(page, "07-customer-after-upgrade")

    refund = page.locator("form#refund")
    refund.get_by_label("Product").select_option("pro")
    refund.get_by_role("button", name="Get refund quote").click()
    quote_total = refund.locator("[data-quote=total]").inner_text()
    quote_cash = refund.locator("[data-quote=cash]").inner_text()
    assert quote_total == server.ok("GET", f"/v1/apps/{seeded['chat']}/refund-quote?product=pro",
                                    role="customer", account="acme")["total"]
    shot(page, "08-customer-refund-quote")
    page.get_by_role("button", name=f"Refund {quote_total} now").click()
    page.locator("#notice").filter(has_text=f"Refunded {quote_total}").wait_for()

    page.get_by_role("link", name="Account acme").click()
    page.get_by_role("heading", name="Account acme").wait_for()
    final = server.ok("GET", "/v1/accounts/acme")["balance"]
    assert page.locator("[data-balance=cash]").inner_text() == final["cash"]
    assert page.locator("[data-balance=total]").inner_text() == final["total"]
    first_row = page.locator("table.ledger tbody tr").first
    assert first_row.locator("td[data-col=Kind]").inner_text() == "refund"
    assert first_row.locator("td[data-col='Balance cash']").inner_text() == final["cash"]
    ledger = server.ok("GET", "/v1/accounts/acme/ledger?limit=1000")["items"]
    assert page.locator("table.ledger td[data-col=Kind]").all_inner_texts() == [e["kind"] for e in reversed(ledger)]
    assert ledger[-1]["kind"] == "refund" and ledger[-1]["cash"] == quote_cash
    assert "null" not in page.inner_text("main") and "undefined" not in page.inner_text("main")
    shot(page, "09-customer-ledger-after-refund")
    _no_token_in_urls(page, tok)
    assert page.dialogs == [] and page.errors == []


def test_auto_renew_toggle(page, server: Http, seeded):
    sign_in(page, server, token("customer", "acme"))
    page.get_by_role("link", name="chat", exact=True).click()
    was = server.ok("GET", f"/v1/apps/{seeded['chat']}")["auto_renew"]
    page.get_by_role("button", name=f"Turn auto-renew {'off' if was else 'on'}").click()
    page.locator("#notice").filter(has_text="Auto-renew").wait_for()
    assert server.ok("GET", f"/v1/apps/{seeded['chat']}")["auto_renew"] is (not was)


def test_an_app_name_is_text_not_html(page, server: Http, seeded):
    sign_in(page, server, token("customer", "acme"))
    page.get_by_role("heading", name="Account acme").wait_for()
    page.get_by_role("link", name=XSS).wait_for()
    assert page.locator("main img").count() == 0
    page.get_by_role("link", name=XSS).click()
    page.get_by_role("heading", name=f"App {XSS}").wait_for()
    assert page.locator("main img").count() == 0
    assert "null" not in page.inner_text("main") and "undefined" not in page.inner_text("main")
    shot(page, "10-xss-app-name-as-text")
    assert page.dialogs == [] and page.errors == []


def test_a_customer_cannot_reach_another_account(page, server: Http, seeded):
    sign_in(page, server, token("customer", "acme"))
    page.get_by_role("heading", name="Account acme").wait_for()
    page.evaluate("() => { location.hash = '#/account/beta'; }")
    page.get_by_role("alert").filter(has_text="account beta not found").wait_for()
    assert page.get_by_text("beta@x.test").count() == 0
    shot(page, "11-customer-other-account-refused")
    page.evaluate(f"() => {{ location.hash = '#/app/{seeded['other']}'; }}")
    page.get_by_role("alert").filter(has_text="not found").wait_for()
    assert page.get_by_text("beta-app").count() == 0
    # the operator pages are not theirs either: the API refuses the data
    page.evaluate("() => { location.hash = '#/dashboard'; }")
    page.get_by_role("alert").filter(has_text="No such page").wait_for()
    status, _ = server.call("GET", "/v1/accounts?status=arrears", role="customer", account="acme")
    assert status == 403


def test_a_forged_cross_site_request_carries_no_credentials(page, server: Http, seeded):
    """A form on another origin posting to the API has no Authorization header: 401, nothing bought."""
    sign_in(page, server, token("customer", "acme"))
    page.get_by_role("heading", name="Account acme").wait_for()
    orders = len(server.ok("GET", f"/v1/apps/{seeded['chat']}/orders")["items"])
    statuses = page.evaluate("""async (url) => {
        const body = '{"edition":"standard","months":1}';
        const form = await fetch(url, {method: 'POST', body, credentials: 'include',
                                       headers: {'Content-Type': 'text/plain'}});
        const json = await fetch(url, {method: 'POST', body, credentials: 'include',
                                       headers: {'Content-Type': 'application/json'}});
        return [form.status, json.status]; }""", f"{server.base}/v1/apps/{seeded['chat']}/purchases")
    assert statuses[0] in (401, 415) and statuses[1] == 401  # what a cross-site form can send; no token
    assert len(server.ok("GET", f"/v1/apps/{seeded['chat']}/orders")["items"]) == orders
