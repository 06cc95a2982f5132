"""Webhooks, events and the audit log in the console (headless Chromium against `imbill serve`):
a customer adds an endpoint (a real local receiver), a package is bought, the serve process's
poller delivers it, and the delivery shows in the log; its signature checks with stdlib hmac."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Http, shot, sign_in, token
from tests.integration.test_webhooks import Receiver

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.heavy]  # the browser module's server and Chromium


def test_a_customer_adds_a_webhook_buys_and_sees_the_delivery(page, server: Http) -> None:  # type: ignore[no-untyped-def]
    receiver = Receiver()
    try:
        server.ok("POST", "/v1/accounts", {"account_id": "hooked", "email": "h@x.test", "phone": "+15550100"})
        server.ok("POST", "/v1/accounts/hooked/topups", {"amount": "1000.00", "kind": "cash"})
        sid = server.ok("POST", "/v1/accounts/hooked/apps", {"name": "hooked-app", "region": "eu"})["sdkappid"]
        sign_in(page, server, token("customer", "hooked"))
        page.get_by_role("link", name="Webhooks").click()
        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_label("Events (* or types, comma separated)").fill("package.purchased")
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.locator("#webhook-secret code.secret").inner_text()
        assert secret.startswith("whsec_")
        expect(page.locator("table.webhooks")).to_contain_text(receiver.url)

        server.ok("POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1})
        deadline = time.monotonic() + 30
        while not receiver.got and time.monotonic() < deadline:
            time.sleep(0.2)
        (headers, body), = receiver.got
        t = dict(p.split("=", 1) for p in headers["imbill-signature"].split(","))["t"]
        mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        assert f"v1={mac}" in headers["imbill-signature"] and headers["imbill-event-type"] == "package.purchased"

        page.get_by_role("button", name="Deliveries").click()
        log = page.locator("table.deliveries")
        expect(log).to_contain_text("package.purchased")
        for _ in range(20):
            if "delivered" in log.inner_text():
                break
            page.get_by_role("button", name="Refresh").click()
            page.wait_for_timeout(500)
        expect(log).to_contain_text("delivered")
        shot(page, "20-webhook-deliveries")
        page.get_by_role("button", name="Retry").click()
        expect(page.locator("table.deliveries td[data-col='Attempts']")).to_have_text("2")
        assert len(receiver.got) == 2 and receiver.got[1][0]["imbill-event-id"] == headers["imbill-event-id"]

        page.get_by_role("link", name="Events").click()
        expect(page.locator("#events table")).to_contain_text("package.purchased")
        expect(page.locator("#events table")).to_contain_text("webhook.created")
        assert page.dialogs == [] and page.errors == []
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_the_operator_sees_the_audit_log(page, server: Http) -> None:  # type: ignore[no-untyped-def]
    server.ok("POST", "/v1/accounts", {"account_id": "audited", "email": "a@x.test", "phone": "+15550100"})
    sign_in(page, server, token("operator"))
    page.get_by_role("link", name="Audit").click()
    audit = page.locator("#audit table")
    expect(audit).to_contain_text("account.created")
    expect(audit).to_contain_text("operator:operator")
    shot(page, "21-audit")
    assert page.errors == []
