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


# ------------------------------------------------------------------ renewal modes and the packages view
@pytest.mark.parametrize("billing_tz", ["UTC", "Asia/Shanghai"])
def test_packages_are_listed_by_expiry_and_modes_set_through_the_api(api, billing_tz) -> None:
    a = api.paid_app("2026-03-10T06:00:00Z", cash="2000.00", months=2)  # 05-10T06:00Z
    b = api.app(name="b")
    api.buy(b, "pro", 1)  # 04-10T06:00Z
    api.plugin(b, "push")  # Shanghai: 04-10 00:00 local = 04-09T16:00Z; UTC: 04-10T00:00Z
    push_end = "2026-04-09T16:00:00Z" if billing_tz == "Asia/Shanghai" else "2026-04-10T00:00:00Z"
    items = c_ok(api, "GET", "/v1/accounts/acme/packages")["items"]
    assert [(p["sdkappid"], p["product"], p["expires_at"]) for p in items] == [
        (b, "push", push_end), (b, "pro", "2026-04-10T06:00:00Z"), (a, "standard", "2026-05-10T06:00:00Z")]
    assert items[0] == {"sdkappid": b, "app_name": "b", "region": "us", "product": "push", "tier": None,
                        "expires_at": push_end, "renewal": "manual", "monthly_price": "299.00", "state": "active"}
    pkg = c_ok(api, "PUT", f"/v1/apps/{a}/renewal", {"product": "standard", "mode": "auto"})
    assert (pkg["renewal"], pkg["monthly_price"]) == ("auto", "399.00")
    assert c_ok(api, "GET", f"/v1/apps/{a}")["auto_renew"] is True
    api.ok("PUT", f"/v1/apps/{b}/auto-renew", {"enabled": True})  # keeps working for the base package
    assert [p["product"] for p in c_ok(api, "GET", "/v1/accounts/acme/packages?renewal=auto")["items"]] == [
        "pro", "standard"]
    after = "2026-04-10T06:00:00Z"
    got = c_ok(api, "GET", f"/v1/accounts/acme/packages?expires_after={after}&product=standard")["items"]
    assert [p["sdkappid"] for p in got] == [a]
    assert c_call(api, "GET", "/v1/accounts/acme/packages?renewal=sometimes").status == 400
    assert c_call(api, "GET", "/v1/accounts/acme/packages", account="other").status == 404
    api.clock("2026-04-10T12:00:00Z")
    states = {p["product"]: p["state"] for p in c_ok(api, "GET", "/v1/accounts/acme/packages")["items"]}
    assert states == {"push": "grace", "pro": "grace", "standard": "active"}


# ------------------------------------------------------------------ batch renewal
def batch(api, items, expect=201, key=None, **extra):
    body = {"items": [{"sdkappid": s, "product": p, "months": m} for s, p, m in items], **extra}
    r = c_call(api, "POST", "/v1/accounts/acme/renewals", body, key=key)
    assert r.status == expect, r.body
    return r.body


@pytest.mark.parametrize("billing_tz", ["UTC", "Asia/Shanghai"])
def test_a_batch_quote_then_renewal_of_three_packages(api, billing_tz) -> None:
    a = api.paid_app("2026-03-01T00:00:00Z", cash="1500.00")
    b = api.app(name="b")
    api.buy(b, "standard", 1)
    api.plugin(b, "search")
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "300.00", "kind": "gift"})  # cash 303.00, gift 300.00
    v = api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "50.00"})["voucher_id"]
    items = [(a, "standard", 1), (b, "search", 1), (b, "standard", 1)]
    body = {"items": [{"sdkappid": s, "product": p, "months": m} for s, p, m in items], "voucher_id": v,
            "voucher_item": 1}
    q = c_ok(api, "POST", "/v1/accounts/acme/renewals/quote", body, expect=200)
    assert [(i["price"], i["voucher_amount"], i["paid_cash"], i["paid_gift"]) for i in q["items"]] == [
        ("399.00", "0.00", "303.00", "96.00"), ("399.00", "50.00", "0.00", "204.00"),
        ("399.00", "0.00", "0.00", "0.00")]
    assert (q["total"], q["cash"], q["gift"], q["voucher"], q["covered"], q["shortfall"]) == (
        "1147.00", "303.00", "300.00", "50.00", False, "544.00")
    refused = c_call(api, "POST", "/v1/accounts/acme/renewals", body)
    assert refused.status == 402 and "total 1147.00, shortfall 544.00" in refused.body["error"]["message"]
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "544.00", "kind": "cash"})
    done = c_ok(api, "POST", "/v1/accounts/acme/renewals", body, key="batch-1")
    assert done["balance"] == {"cash": "0.00", "gift": "0.00", "total": "0.00"}
    assert [(o["product"], o["kind"], o["starts_at"], o["paid_cash"], o["paid_gift"], o["voucher_amount"])
            for o in done["orders"]] == [
        ("standard", "renewal", "2026-04-01T00:00:00Z", "399.00", "0.00", "0.00"),
        ("search", "renewal", q["items"][1]["starts_at"], "349.00", "0.00", "50.00"),
        ("standard", "renewal", "2026-04-01T00:00:00Z", "99.00", "300.00", "0.00")]
    again = c_ok(api, "POST", "/v1/accounts/acme/renewals", body, key="batch-1")
    assert again == done and api.balance()["total"] == "0.00"
    assert api.ledger_sum() == ("0.00", "0.00")
    assert len(c_ok(api, "GET", f"/v1/apps/{b}/orders")["items"]) == 4
    ledger = api.ok("GET", "/v1/accounts/acme/ledger?limit=1000")["items"]
    assert [e["ref"] for e in ledger[-3:]] == [o["order_id"] for o in done["orders"]]


def test_a_batch_naming_an_item_that_cannot_be_renewed_is_refused_whole(api) -> None:
    a = api.paid_app("2026-03-01T00:00:00Z", cash="1500.00")
    dev = api.app(name="dev")
    r = c_call(api, "POST", "/v1/accounts/acme/renewals",
               {"items": [{"sdkappid": a, "product": "standard", "months": 1},
                          {"sdkappid": dev, "product": "developer", "months": 1}]})
    assert r.status == 409 and r.body["error"]["message"].startswith("items[1]:")
    assert api.balance()["total"] == "1101.00"
    assert c_call(api, "POST", "/v1/accounts/acme/renewals", {"items": []}).status == 400
    too_many = {"items": [{"sdkappid": a, "product": "standard", "months": 1}] * 101}
    assert c_call(api, "POST", "/v1/accounts/acme/renewals", too_many).status == 400


# ------------------------------------------------------------------ contacts and the account's own contact
def test_patch_changes_the_account_contact_and_contacts_get_their_kinds_on_their_channels(api) -> None:
    sid = api.paid_app("2026-03-01T00:00:00Z", cash="399.00")
    acct = c_ok(api, "PATCH", "/v1/accounts/acme", {"email": "billing@acme.test", "phone": "+15550199"})
    assert (acct["email"], acct["phone"]) == ("billing@acme.test", "+15550199")
    assert c_call(api, "PATCH", "/v1/accounts/acme", {"email": "not an e-mail"}).status == 400
    assert c_call(api, "PATCH", "/v1/accounts/acme", {"phone": "12"}).status == 400
    assert c_call(api, "PATCH", "/v1/accounts/acme", {"email": "x@y.test"}, account="other").status == 404
    listed = c_ok(api, "GET", "/v1/accounts/acme/contacts")["items"]
    assert listed[0]["contact_id"] == "account" and listed[0]["email"] == "billing@acme.test"
    assert listed[0]["subscriptions"]["expiry_warning"] == ["email", "sms"]
    put = {"items": [
        {"contact_id": "account", "subscriptions": {"stopped": ["email", "sms"], "arrears": ["email", "sms"],
                                                    "reclaimed": ["email", "sms"], "bill": ["email"]}},
        {"contact_id": "ops", "name": "Ops", "email": "ops@acme.test", "phone": "+15550111",
         "subscriptions": {"expiry_warning": ["sms"], "stopped": ["email", "sms"]}},
        {"contact_id": "cfo", "email": "cfo@acme.test", "subscriptions": {"bill": ["email"]}},
    ]}
    got = c_ok(api, "PUT", "/v1/accounts/acme/contacts", put)["items"]
    assert [c["contact_id"] for c in got] == ["account", "ops", "cfo"]
    assert got[0]["subscriptions"]["expiry_warning"] == []
    bad = {"items": [{"contact_id": "account", "subscriptions": {"stopped": ["email"], "arrears": ["email", "sms"],
                                                                "reclaimed": ["email", "sms"]}}]}
    r = c_call(api, "PUT", "/v1/accounts/acme/contacts", bad)
    assert r.status == 400 and "cannot unsubscribe from stopped" in r.body["error"]["message"]
    eleven = {"items": [{"contact_id": f"c{i}", "email": f"c{i}@x.test"} for i in range(11)]}
    assert c_call(api, "PUT", "/v1/accounts/acme/contacts", eleven).status == 400
    twice = {"items": [{"contact_id": "x", "email": "x@x.test", "subscriptions": {"stopped": ["sms", "sms"]}}]}
    assert c_call(api, "PUT", "/v1/accounts/acme/contacts", twice).status == 400
    # a warning: only ops by SMS (the account's own contact left expiry warnings); the stop: everyone
    api.clock("2026-03-26T00:00:00Z", run_jobs=True)
    api.clock("2026-04-02T01:00:00Z", run_jobs=True)
    notes = c_ok(api, "GET", "/v1/accounts/acme/notifications?limit=1000")["items"]
    warnings = {(n["contact_id"], n["channel"], n["to"]) for n in notes if n["kind"] == "expiry_warning"}
    assert warnings == {("ops", "sms", "+15550111")}
    stops = sorted((n["contact_id"], n["channel"], n["to"]) for n in notes if n["kind"] == "stopped")
    assert stops == [("account", "email", "billing@acme.test"), ("account", "sms", "+15550199"),
                     ("ops", "email", "ops@acme.test"), ("ops", "sms", "+15550111")]
    assert c_ok(api, "GET", f"/v1/apps/{sid}")["status"] == "stopped"


# ------------------------------------------------------------------ balance alert
@pytest.mark.parametrize("billing_tz", ["UTC", "Asia/Shanghai"])
def test_one_balance_low_per_downward_crossing_rearmed_at_the_threshold(api, billing_tz) -> None:
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1100.00")
    a, b = api.app(name="a"), api.app(name="b")
    assert c_ok(api, "PUT", "/v1/accounts/acme/balance-alert", {"threshold": "500.00"}) == {
        "threshold": "500.00", "armed": True}
    api.buy(a)  # 701.00: still at or above
    api.buy(b)  # 302.00: crossed
    api.plugin(a, "push")  # 3.00: lower still, no second alert

    def lows():
        return [n for n in c_ok(api, "GET", "/v1/accounts/acme/notifications")["items"] if n["kind"] == "balance_low"]

    assert [(n["channel"], n["contact_id"]) for n in lows()] == [("email", "account"), ("sms", "account")]
    assert "is 302.00" in lows()[0]["body"]
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "300.00", "kind": "gift"})  # 303.00: below 500.00
    assert len(lows()) == 2
    assert c_ok(api, "PUT", "/v1/accounts/acme/balance-alert", {"threshold": "300.00"})["armed"] is True
    api.plugin(b, "push")  # 4.00: crossed 300.00
    assert len(lows()) == 4
    assert c_call(api, "PUT", "/v1/accounts/acme/balance-alert", {"threshold": "1000000.01"}).status == 400
    assert c_call(api, "PUT", "/v1/accounts/acme/balance-alert", {"threshold": "-1.00"}).status == 400
    assert c_ok(api, "PUT", "/v1/accounts/acme/balance-alert", {"threshold": None}) == {"threshold": None,
                                                                                      "armed": False}


@pytest.mark.heavy
@pytest.mark.parametrize("billing_tz", ["UTC", "Asia/Shanghai"])
def test_the_reproduced_bug_an_auto_renewing_app_with_the_balance_gets_no_warning(api, billing_tz) -> None:
    """1,000.00 cash, Standard with auto_renew, advance 40 days: renewed at expiry, never warned."""
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    sid = api.app()
    api.buy(sid, "standard", 1, auto_renew=True)
    api.advance(days=40)
    kinds = [n["kind"] for n in c_ok(api, "GET", "/v1/accounts/acme/notifications")["items"]]
    assert kinds == []
    orders = c_ok(api, "GET", f"/v1/apps/{sid}/orders")["items"]
    assert [(o["kind"], o["starts_at"]) for o in orders] == [("new", "2026-03-01T00:00:00Z"),
                                                              ("auto_renewal", "2026-04-01T00:00:00Z")]
    assert api.balance()["total"] == "202.00"
