"""The Renewals page (issue 18) in headless Chromium: three packages renewed at once, a double click on
the renew button charging once; an app disabled and enabled again from its page."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Http, shot, sign_in, token

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.heavy]  # the module shares the session's server


@pytest.fixture(scope="module")
def renewco(server: Http) -> list[int]:
    """renewco with 2,394.00 cash and three Standard apps (1,197.00 spent), at the server's clock."""
    server.ok("POST", "/v1/accounts", {"account_id": "renewco", "email": "r@x.test", "phone": "+15550100"})
    server.ok("POST", "/v1/accounts/renewco/topups", {"amount": "2394.00", "kind": "cash"})
    sids = []
    for name in ("r1", "r2", "r3"):
        sid = server.ok("POST", "/v1/accounts/renewco/apps", {"name": name, "region": "eu"})["sdkappid"]
        server.ok("POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1})
        sids.append(sid)
    return sids


def test_three_packages_are_renewed_at_once_and_a_double_click_charges_once(page, server: Http, renewco):
    sign_in(page, server, token("customer", "renewco"))
    page.locator("#nav").get_by_role("link", name="Renewals").click()  # the account page may show one too
    page.get_by_role("heading", name="Renewals of renewco").wait_for()
    assert page.locator("input[name=pick]").count() == 3
    page.locator("#pick-all").check()
    page.get_by_role("button", name="Quote").click()
    confirm = page.locator("#renew-confirm")
    confirm.wait_for()
    assert page.locator("#quote-total").inner_text().startswith("Total 1197.00 (cash 1197.00, gift 0.00)")
    shot(page, "20-renewals-quote")
    confirm.dblclick()
    page.locator("#notice").filter(has_text="Renewed 3 package(s)").wait_for()
    balance = server.ok("GET", "/v1/accounts/renewco")["balance"]
    assert balance == {"cash": "0.00", "gift": "0.00", "total": "0.00"}
    for sid in renewco:
        orders = server.ok("GET", f"/v1/apps/{sid}/orders")["items"]
        assert [(o["kind"], o["price"]) for o in orders] == [("new", "399.00"), ("renewal", "399.00")]
    ledger = server.ok("GET", "/v1/accounts/renewco/ledger?limit=100")["items"]
    assert [e["kind"] for e in ledger] == ["topup"] + ["purchase"] * 6  # the double click bought nothing more
    assert page.locator("[data-balance=total]").inner_text() == "0.00"
    shot(page, "21-renewals-done")
    assert page.dialogs == [] and page.errors == []


def test_an_app_is_disabled_and_enabled_again_from_its_page(page, server: Http, renewco):
    sign_in(page, server, token("customer", "renewco"))
    page.get_by_role("link", name="r1", exact=True).click()
    page.get_by_role("heading", name="App r1").wait_for()
    page.locator("form#disable-app").get_by_role("button", name="Disable").click()
    page.locator("#disable-app-confirm").click()
    page.locator("#notice").filter(has_text="disabled (requested)").wait_for()
    page.locator("form#enable-app").get_by_role("button", name="Enable").click()
    page.locator("#enable-app-confirm").click()
    page.locator("#notice").filter(has_text="is enabled").wait_for()
    assert server.ok("GET", f"/v1/apps/{renewco[0]}")["status"] == "enabled"
    assert page.dialogs == [] and page.errors == []
