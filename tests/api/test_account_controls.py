"""Renewal management and account controls through the API (issue 18; billing-rules 5 "Renewal
management", 7 "Disabling an app", 7a): disable / enable / delete, in UTC and Asia/Shanghai."""

from __future__ import annotations

import pytest


def c_call(api, method, path, body=None, account="acme", **kw):
    return api.call(method, path, body, role="customer", account=account, **kw)


def c_ok(api, method, path, body=None, expect=None, account="acme", **kw):
    return api.ok(method, path, body, expect=expect, role="customer", account=account, **kw)


# ------------------------------------------------------------------ disable / enable / delete
@pytest.mark.parametrize("billing_tz", ["UTC", "Asia/Shanghai"])
def test_a_customer_disables_enables_disables_and_deletes_an_app(api, billing_tz) -> None:
    sid = api.paid_app("2026-03-01T00:00:00Z", cash="500.00")
    api.clock("2026-03-05T00:00:00Z")
    app = c_ok(api, "POST", f"/v1/apps/{sid}/disable", expect=200)
    assert (app["status"], app["disabled_reason"]) == ("disabled", "requested")
    assert app["disabled_at"] == "2026-03-05T00:00:00Z"
    assert app["expires_at"] == "2026-04-01T00:00:00Z"  # the package keeps running out its term
    assert api.balance() == {"cash": "101.00", "gift": "0.00", "total": "101.00"}  # nothing refunded
    login = api.call("POST", "/v1/usage/logins", {"sdkappid": sid, "user_ids": ["u1"]}, role="service")
    assert login.status == 409 and login.body["error"]["code"] == "not_in_service"
    assert c_call(api, "POST", f"/v1/apps/{sid}/disable").status == 409  # only an enabled app
    api.clock("2026-03-06T00:00:00Z")
    app = c_ok(api, "POST", f"/v1/apps/{sid}/enable", expect=200)
    assert (app["status"], app["disabled_reason"], app["disabled_at"]) == ("enabled", None, None)
    assert c_ok(api, "POST", f"/v1/apps/{sid}/disable", expect=200)["status"] == "disabled"
    gone = c_ok(api, "DELETE", f"/v1/apps/{sid}", expect=200)
    assert gone["status"] == "reclaimed"
    assert api.ok("GET", "/v1/accounts/acme")["apps_count"] == 0


def test_enable_is_refused_once_the_package_ran_out_and_reclamation_comes_90_days_after_the_disable(api) -> None:
    sid = api.paid_app("2026-03-01T00:00:00Z", cash="500.00")
    api.clock("2026-03-20T00:00:00Z")
    api.ok("POST", f"/v1/apps/{sid}/disable", expect=200)  # an operator may too
    api.clock("2026-04-01T00:00:00Z")  # the Standard term ended
    refused = c_call(api, "POST", f"/v1/apps/{sid}/enable")
    assert refused.status == 409 and "not valid" in refused.body["error"]["message"]
    api.clock("2026-06-18T00:00:00Z", run_jobs=True)  # 2026-03-20 + 90 days, reclamation at 03:00
    assert c_ok(api, "GET", f"/v1/apps/{sid}")["status"] == "disabled"
    api.clock("2026-06-18T03:00:00Z", run_jobs=True)
    assert c_ok(api, "GET", f"/v1/apps/{sid}")["status"] == "reclaimed"
    assert c_call(api, "POST", f"/v1/apps/{sid}/enable").status == 410


def test_a_developer_app_is_enabled_again_only_before_its_expiry_and_a_refund_says_refunded(api) -> None:
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="500.00")
    dev = api.app()
    c_ok(api, "POST", f"/v1/apps/{dev}/disable", expect=200)
    api.clock("2026-03-31T23:59:59Z")
    assert c_ok(api, "POST", f"/v1/apps/{dev}/enable", expect=200)["status"] == "enabled"
    c_ok(api, "POST", f"/v1/apps/{dev}/disable", expect=200)
    api.clock("2026-04-01T00:00:00Z")
    assert c_call(api, "POST", f"/v1/apps/{dev}/enable").status == 409
    paid = api.app(name="paid")
    api.buy(paid)
    refunded = c_ok(api, "POST", f"/v1/apps/{paid}/refunds", {})["app"]
    assert (refunded["status"], refunded["disabled_reason"]) == ("disabled", "refunded")
    assert c_call(api, "POST", f"/v1/apps/{paid}/enable").status == 409  # the refund ended the term
    assert c_call(api, "POST", f"/v1/apps/{paid}/disable", account="other").status == 404
