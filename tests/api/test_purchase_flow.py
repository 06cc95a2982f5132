"""A customer's way through the API (billing-rules sections 4-5, worked examples 1-4 of section 8):
new purchase, renewal, upgrade with credit, refund, reactivation, Developer extension, auto-renew,
entitlements, orders, vouchers, the cash/gift split and idempotency. Exact string amounts throughout."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from chalicelib.domain.calendar import iso, parse_instant


def customer(api, method, path, body=None, account="acme", **kw):
    return api.call(method, path, body, role="customer", account=account, **kw)


def c_ok(api, method, path, body=None, expect=None, account="acme", **kw):
    return api.ok(method, path, body, expect=expect, role="customer", account=account, **kw)


def c_app(api, account="acme", name="chat"):
    return c_ok(api, "POST", f"/v1/accounts/{account}/apps", {"name": name, "region": "eu"}, account=account)


def c_buy(api, sid, edition="standard", months=1, account="acme", **extra):
    return c_ok(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": edition, "months": months, **extra},
                account=account)


def ledger(api, account="acme"):
    return api.ok("GET", f"/v1/accounts/{account}/ledger?limit=1000")["items"]


def orders(api, sid):
    return c_ok(api, "GET", f"/v1/apps/{sid}/orders")["items"]


def assert_ledger_matches_balance(api, account="acme"):
    bal = api.balance(account)
    assert api.ledger_sum(account) == (bal["cash"], bal["gift"])
    entries = ledger(api, account)
    if entries:
        assert (entries[-1]["balance_cash"], entries[-1]["balance_gift"]) == (bal["cash"], bal["gift"])


# ------------------------------------------------------------------ new purchase
def test_customer_creates_an_app_and_buys_standard(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    app = c_app(api)
    assert app["edition"] == "developer" and app["status"] == "enabled"
    assert app["account_id"] == "acme" and app["auto_renew"] is False
    assert (app["created_at"], app["expires_at"]) == ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
    sid = app["sdkappid"]

    r = c_buy(api, sid, "standard", 1)
    order = r["order"]
    assert {k: order[k] for k in ("sdkappid", "product", "kind", "months", "starts_at", "ends_at", "price",
                                  "voucher_amount", "paid_cash", "paid_gift", "status")} == {
        "sdkappid": sid, "product": "standard", "kind": "new", "months": 1,
        "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-04-01T00:00:00Z", "price": "399.00",
        "voucher_amount": "0.00", "paid_cash": "399.00", "paid_gift": "0.00", "status": "active",
    }
    assert order["periods"] == [{"starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-04-01T00:00:00Z",
                                 "paid_cash": "399.00", "paid_gift": "0.00"}]
    assert r["credit"] is None
    assert r["balance"] == {"cash": "601.00", "gift": "0.00", "total": "601.00"}
    assert r["app"]["edition"] == "standard" and r["app"]["status"] == "enabled"
    assert r["app"]["expires_at"] == "2026-04-01T00:00:00Z"
    assert c_ok(api, "GET", f"/v1/apps/{sid}") == r["app"]
    assert c_ok(api, "GET", "/v1/accounts/acme")["balance"] == r["balance"]
    entries = ledger(api)
    assert [(e["kind"], e["cash"], e["gift"], e["balance_cash"], e["ref"]) for e in entries] == [
        ("topup", "1000.00", "0.00", "1000.00", "cash"),
        ("purchase", "-399.00", "0.00", "601.00", order["order_id"]),
    ]
    assert_ledger_matches_balance(api)


def test_multi_month_purchase_periods_from_the_anchor(api):
    api.clock("2026-01-31T08:00:00Z")
    api.account("acme", cash="1197.00")
    sid = c_app(api)["sdkappid"]
    order = c_buy(api, sid, "standard", 3)["order"]
    assert [(p["starts_at"], p["ends_at"], p["paid_cash"]) for p in order["periods"]] == [
        ("2026-01-31T08:00:00Z", "2026-02-28T08:00:00Z", "399.00"),
        ("2026-02-28T08:00:00Z", "2026-03-31T08:00:00Z", "399.00"),
        ("2026-03-31T08:00:00Z", "2026-04-30T08:00:00Z", "399.00"),
    ]
    assert order["price"] == "1197.00" and order["ends_at"] == "2026-04-30T08:00:00Z"


@pytest.mark.parametrize("billing_tz", ["Asia/Shanghai"])
def test_purchase_in_shanghai_counts_months_in_local_days(api, billing_tz):
    api.clock("2026-01-31T20:00:00Z")  # Feb 1 04:00 local
    api.account("acme", cash="798.00")
    app = c_app(api)
    assert app["expires_at"] == "2026-02-28T20:00:00Z"  # Mar 1 04:00 local
    order = c_buy(api, app["sdkappid"], "standard", 2)["order"]
    assert [(p["starts_at"], p["ends_at"]) for p in order["periods"]] == [
        ("2026-01-31T20:00:00Z", "2026-02-28T20:00:00Z"),
        ("2026-02-28T20:00:00Z", "2026-03-31T20:00:00Z"),
    ]


# ------------------------------------------------------------------ renewal
def test_renewal_appends_periods_after_the_current_expiry(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1197.00")
    sid = c_app(api)["sdkappid"]
    first = c_buy(api, sid)["order"]
    api.clock("2026-03-20T00:00:00Z")
    r = c_buy(api, sid, "standard", 2)
    renewal = r["order"]
    assert (renewal["kind"], renewal["starts_at"], renewal["ends_at"], renewal["status"]) == (
        "renewal", "2026-04-01T00:00:00Z", "2026-06-01T00:00:00Z", "pending")
    assert [(p["starts_at"], p["ends_at"]) for p in renewal["periods"]] == [
        ("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"),
        ("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z"),
    ]
    assert r["app"]["expires_at"] == "2026-06-01T00:00:00Z" and r["app"]["status"] == "enabled"
    assert r["balance"]["total"] == "0.00"
    assert [(o["order_id"], o["status"]) for o in orders(api, sid)] == [
        (first["order_id"], "active"), (renewal["order_id"], "pending")]


def test_renewal_within_the_24h_grace_continues_from_the_old_expiry(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="798.00")
    sid = c_app(api)["sdkappid"]
    c_buy(api, sid)
    api.clock("2026-04-01T20:00:00Z", run_jobs=True)  # 20 h after expiry: not stopped yet
    assert c_ok(api, "GET", f"/v1/apps/{sid}")["status"] == "enabled"
    r = c_buy(api, sid)
    assert (r["order"]["kind"], r["order"]["starts_at"], r["order"]["ends_at"]) == (
        "renewal", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z")
    assert r["app"]["expires_at"] == "2026-05-01T00:00:00Z"
    assert [o["status"] for o in orders(api, sid)] == ["expired", "active"]


def test_purchase_after_the_app_was_stopped_starts_now(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="798.00")
    sid = c_app(api)["sdkappid"]
    c_buy(api, sid)
    api.clock("2026-04-02T06:00:00Z", run_jobs=True)  # past the grace: the enforcement job stopped it
    app = c_ok(api, "GET", f"/v1/apps/{sid}")
    assert (app["status"], app["stop_reason"]) == ("stopped", "expired")
    r = c_buy(api, sid)
    assert (r["order"]["kind"], r["order"]["starts_at"], r["order"]["ends_at"]) == (
        "reactivation", "2026-04-02T06:00:00Z", "2026-05-02T06:00:00Z")
    assert (r["app"]["status"], r["app"]["stop_reason"], r["app"]["stopped_at"]) == ("enabled", None, None)


# ------------------------------------------------------------------ upgrade (worked example 4)
def test_worked_example_4_upgrade_standard_to_pro_with_credit(api):
    api.clock("2026-06-01T00:00:00Z")
    api.account("acme", cash="899.00")
    sid = c_app(api)["sdkappid"]
    standard = c_buy(api, sid, "standard", 1)["order"]
    api.clock("2026-06-16T00:00:00Z")
    quote = c_ok(api, "GET", f"/v1/apps/{sid}/refund-quote")
    assert (quote["used_value"], quote["total"], quote["cash"]) == ("199.50", "199.50", "199.50")

    r = c_buy(api, sid, "pro", 1)
    assert r["credit"] == {"total": "199.50", "cash": "199.50", "gift": "0.00"}
    pro = r["order"]
    assert (pro["product"], pro["kind"], pro["starts_at"], pro["ends_at"], pro["price"], pro["paid_cash"],
            pro["paid_gift"], pro["status"]) == (
        "pro", "upgrade", "2026-06-16T00:00:00Z", "2026-07-16T00:00:00Z", "699.00", "699.00", "0.00", "active")
    assert pro["periods"] == [{"starts_at": "2026-06-16T00:00:00Z", "ends_at": "2026-07-16T00:00:00Z",
                               "paid_cash": "699.00", "paid_gift": "0.00"}]
    assert r["balance"] == {"cash": "0.50", "gift": "0.00", "total": "0.50"}
    assert (r["app"]["edition"], r["app"]["status"], r["app"]["expires_at"]) == (
        "pro", "enabled", "2026-07-16T00:00:00Z")

    entries = ledger(api)
    assert [(e["kind"], e["cash"], e["gift"], e["balance_cash"]) for e in entries[-2:]] == [
        ("credit", "199.50", "0.00", "699.50"),
        ("purchase", "-699.00", "0.00", "0.50"),
    ]
    assert entries[-1]["ref"] == pro["order_id"]
    assert_ledger_matches_balance(api)

    listed = {o["order_id"]: o for o in orders(api, sid)}
    credited = listed[standard["order_id"]]
    assert credited["status"] == "refunded"
    assert credited["periods"][-1]["ends_at"] == "2026-06-16T00:00:00Z"
    assert listed[pro["order_id"]]["status"] == "active"
    # what was credited cannot be refunded again: the quote now covers Pro only
    assert c_ok(api, "GET", f"/v1/apps/{sid}/refund-quote")["product"] == "pro"
    assert customer(api, "GET", f"/v1/apps/{sid}/refund-quote?product=standard").status == 409


def test_upgrade_credit_keeps_the_cash_gift_ratio(api):
    api.clock("2026-06-01T00:00:00Z")
    api.account("acme", cash="200.00", gift="1000.00")
    sid = c_app(api)["sdkappid"]
    assert c_buy(api, sid)["order"]["paid_gift"] == "199.00"
    api.clock("2026-06-16T00:00:00Z")
    r = c_buy(api, sid, "pro")
    # 199.50 x 200/399 = 100.00 cash, 99.50 gift; then 699.00 from 100.00 cash + 900.50 gift
    assert r["credit"] == {"total": "199.50", "cash": "100.00", "gift": "99.50"}
    assert (r["order"]["paid_cash"], r["order"]["paid_gift"]) == ("100.00", "599.00")
    assert r["balance"] == {"cash": "0.00", "gift": "301.50", "total": "301.50"}
    assert_ledger_matches_balance(api)


def test_upgrade_not_covered_after_the_credit_is_refused_whole(api):
    api.clock("2026-06-01T00:00:00Z")
    api.account("acme", cash="699.00")
    sid = c_app(api)["sdkappid"]
    c_buy(api, sid)
    before_orders, before_ledger = orders(api, sid), ledger(api)
    api.clock("2026-06-16T00:00:00Z")
    r = customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "pro", "months": 1})
    assert (r.status, r.code) == (402, "insufficient_balance")  # 300.00 + 199.50 < 699.00
    assert api.balance() == {"cash": "300.00", "gift": "0.00", "total": "300.00"}
    assert ledger(api) == before_ledger
    after = orders(api, sid)
    assert [(o["order_id"], o["periods"]) for o in after] == [(o["order_id"], o["periods"]) for o in before_orders]
    assert c_ok(api, "GET", f"/v1/apps/{sid}")["edition"] == "standard"


def test_upgrade_credits_the_running_and_not_started_standard_periods(api):
    api.clock("2026-06-01T00:00:00Z")
    api.account("acme", cash="2000.00")
    sid = c_app(api)["sdkappid"]
    c_buy(api, sid, "standard", 1)
    c_buy(api, sid, "standard", 1)  # renewal Jul 1 -> Aug 1, not started
    api.clock("2026-06-16T00:00:00Z")
    r = c_buy(api, sid, "pro", 1)
    assert r["credit"] == {"total": "598.50", "cash": "598.50", "gift": "0.00"}  # 399.00 + 399.00 - 199.50
    assert r["balance"]["total"] == "1101.50"  # 2000.00 - 798.00 + 598.50 - 699.00
    assert r["app"]["expires_at"] == "2026-07-16T00:00:00Z"
    assert [o["status"] for o in orders(api, sid)] == ["refunded", "refunded", "active"]


# ------------------------------------------------------------------ refunds (worked examples 1-3)
def test_worked_example_1_refund_disables_the_app(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="399.00")
    sid = c_app(api)["sdkappid"]
    order = c_buy(api, sid)["order"]
    api.clock("2026-03-11T00:00:00Z")
    expected = {"product": "standard", "at": "2026-03-11T00:00:00Z", "current_amount": "399.00",
                "not_started_amount": "0.00", "used_value": "128.71", "total": "270.29", "cash": "270.29",
                "gift": "0.00"}
    assert c_ok(api, "GET", f"/v1/apps/{sid}/refund-quote?product=standard") == expected
    r = c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {})
    assert r["refund"] == expected
    assert r["balance"] == {"cash": "270.29", "gift": "0.00", "total": "270.29"}
    app = r["app"]
    assert (app["status"], app["disabled_at"], app["edition"], app["auto_renew"]) == (
        "disabled", "2026-03-11T00:00:00Z", "standard", False)
    entry = ledger(api)[-1]
    assert (entry["kind"], entry["cash"], entry["gift"], entry["balance_cash"], entry["ref"]) == (
        "refund", "270.29", "0.00", "270.29", order["order_id"])
    (refunded,) = orders(api, sid)
    assert refunded["status"] == "refunded"
    assert refunded["periods"] == [{"starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-03-11T00:00:00Z",
                                    "paid_cash": "399.00", "paid_gift": "0.00"}]
    ent = c_ok(api, "GET", f"/v1/apps/{sid}/entitlements")
    assert (ent["status"], ent["in_service"]) == ("disabled", False)
    # nothing left to refund
    assert customer(api, "POST", f"/v1/apps/{sid}/refunds", {}).status == 409
    assert_ledger_matches_balance(api)


def test_worked_example_2_refund_with_voucher_by_cash_gift_ratio(api):
    api.clock("2026-04-01T00:00:00Z")
    api.account("acme", cash="400.00", gift="300.00")
    voucher = api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "100.00"})
    sid = c_app(api)["sdkappid"]
    api.clock("2026-04-10T00:00:00Z")
    r = c_buy(api, sid, "pro", 1, voucher_id=voucher["voucher_id"])
    order = r["order"]
    assert (order["price"], order["voucher_amount"], order["paid_cash"], order["paid_gift"]) == (
        "699.00", "100.00", "400.00", "199.00")
    assert r["balance"] == {"cash": "0.00", "gift": "101.00", "total": "101.00"}
    api.clock("2026-04-20T12:00:00Z")
    r = c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {"product": "pro"})
    assert r["refund"] == {"product": "pro", "at": "2026-04-20T12:00:00Z", "current_amount": "599.00",
                           "not_started_amount": "0.00", "used_value": "244.65", "total": "354.35",
                           "cash": "236.63", "gift": "117.72"}
    assert r["balance"] == {"cash": "236.63", "gift": "218.72", "total": "455.35"}
    assert r["app"]["status"] == "disabled"
    entry = ledger(api)[-1]
    assert (entry["kind"], entry["cash"], entry["gift"]) == ("refund", "236.63", "117.72")
    # the voucher is never refunded: it stays used by the refunded order
    (v,) = c_ok(api, "GET", "/v1/accounts/acme/vouchers")["items"]
    assert v["used_by_order"] == order["order_id"]
    assert_ledger_matches_balance(api)


def test_worked_example_3_refund_counts_not_started_periods(api):
    api.clock("2026-01-15T00:00:00Z")
    api.account("acme", cash="1197.00")
    sid = c_app(api)["sdkappid"]
    c_buy(api, sid, "standard", 3)
    api.clock("2026-02-20T00:00:00Z")
    r = c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {})
    assert r["refund"] == {"product": "standard", "at": "2026-02-20T00:00:00Z", "current_amount": "399.00",
                           "not_started_amount": "399.00", "used_value": "71.25", "total": "726.75",
                           "cash": "726.75", "gift": "0.00"}
    assert r["balance"]["cash"] == "726.75"
    (order,) = orders(api, sid)
    assert [(p["starts_at"], p["ends_at"]) for p in order["periods"]] == [
        ("2026-01-15T00:00:00Z", "2026-02-15T00:00:00Z"),
        ("2026-02-15T00:00:00Z", "2026-02-20T00:00:00Z"),
    ]
    assert order["status"] == "refunded"


def test_refund_covers_a_renewal_that_has_not_started(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="798.00")
    sid = c_app(api)["sdkappid"]
    c_buy(api, sid)
    c_buy(api, sid)  # renewal Apr 1 -> May 1
    api.clock("2026-03-11T00:00:00Z")
    r = c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {})
    assert (r["refund"]["current_amount"], r["refund"]["not_started_amount"], r["refund"]["used_value"],
            r["refund"]["total"]) == ("399.00", "399.00", "128.71", "669.29")
    assert [o["status"] for o in orders(api, sid)] == ["refunded", "refunded"]
    assert r["app"]["expires_at"] == "2026-03-11T00:00:00Z"


def test_refund_quote_has_no_side_effect(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="399.00")
    sid = c_app(api)["sdkappid"]
    c_buy(api, sid)
    api.clock("2026-03-11T00:00:00Z")
    for _ in range(2):
        assert c_ok(api, "GET", f"/v1/apps/{sid}/refund-quote")["total"] == "270.29"
    assert api.balance()["total"] == "0.00" and len(ledger(api)) == 2
    assert c_ok(api, "GET", f"/v1/apps/{sid}")["status"] == "enabled"


# ------------------------------------------------------------------ reactivation
def test_disabled_app_is_reactivated_by_a_purchase_starting_now(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1100.00")
    sid = c_app(api)["sdkappid"]
    c_buy(api, sid, "pro")
    api.clock("2026-03-11T00:00:00Z")
    c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {})
    api.clock("2026-03-12T06:00:00Z")
    # after refunding Pro the customer may buy Standard (a disabled app is not downgraded)
    r = c_buy(api, sid, "standard", 1)
    assert (r["order"]["kind"], r["order"]["starts_at"], r["order"]["ends_at"]) == (
        "reactivation", "2026-03-12T06:00:00Z", "2026-04-12T06:00:00Z")
    app = r["app"]
    assert (app["edition"], app["status"], app["disabled_at"], app["expires_at"]) == (
        "standard", "enabled", None, "2026-04-12T06:00:00Z")
    assert c_ok(api, "GET", f"/v1/apps/{sid}/entitlements")["in_service"] is True
    assert_ledger_matches_balance(api)


# ------------------------------------------------------------------ Developer extension
def test_developer_extension_only_after_expiry(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    sid = c_app(api)["sdkappid"]
    r = customer(api, "POST", f"/v1/apps/{sid}/trial-extensions")
    assert (r.status, r.code) == (409, "conflict")
    api.clock("2026-04-01T00:00:00Z")  # the expiry instant itself
    app = c_ok(api, "POST", f"/v1/apps/{sid}/trial-extensions", expect=200)
    assert (app["edition"], app["status"], app["expires_at"]) == ("developer", "enabled", "2026-05-01T00:00:00Z")
    api.clock("2026-05-10T12:00:00Z", run_jobs=True)  # stopped by enforcement on May 2
    assert c_ok(api, "GET", f"/v1/apps/{sid}")["status"] == "stopped"
    app = c_ok(api, "POST", f"/v1/apps/{sid}/trial-extensions", expect=200)
    assert (app["status"], app["stop_reason"], app["stopped_at"], app["expires_at"]) == (
        "enabled", None, None, "2026-06-10T12:00:00Z")
    assert api.balance()["total"] == "0.00" and ledger(api) == []  # free


def test_paid_app_cannot_ask_for_a_developer_extension(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="399.00")
    sid = c_app(api)["sdkappid"]
    c_buy(api, sid)
    api.clock("2026-04-01T06:00:00Z")
    r = customer(api, "POST", f"/v1/apps/{sid}/trial-extensions")
    assert (r.status, r.code) == (409, "conflict")


# ------------------------------------------------------------------ auto-renew
def test_auto_renew_flag_set_by_purchase_and_by_put(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="798.00")
    sid = c_app(api)["sdkappid"]
    r = c_buy(api, sid, "standard", 1, auto_renew=True)
    assert r["app"]["auto_renew"] is True
    assert c_ok(api, "PUT", f"/v1/apps/{sid}/auto-renew", {"enabled": False}, expect=200)["auto_renew"] is False
    assert c_ok(api, "GET", f"/v1/apps/{sid}")["auto_renew"] is False
    assert c_ok(api, "PUT", f"/v1/apps/{sid}/auto-renew", {"enabled": True}, expect=200)["auto_renew"] is True
    # a renewal without the field leaves the flag alone
    assert c_buy(api, sid)["app"]["auto_renew"] is True
    r = customer(api, "PUT", f"/v1/apps/{sid}/auto-renew", {"enabled": "yes"})
    assert (r.status, r.code) == (400, "invalid_request")


# ------------------------------------------------------------------ entitlements
def test_entitlements_follow_the_catalog(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="2000.00")
    sid = c_app(api)["sdkappid"]
    dev = api.ok("GET", f"/v1/apps/{sid}/entitlements", role="service")
    assert (dev["sdkappid"], dev["edition"], dev["status"], dev["in_service"]) == (sid, "developer", "enabled", True)
    assert dev["limits"]["friends_per_user"] == 20 and dev["limits"]["non_live_groups"] == 100
    assert dev["features"]["broadcast_to_all_users"] is True and dev["features"]["communities"] is True
    assert dev["mau"] == {"month": "2026-03", "used": 0, "free": 100, "overage_allowed": False}

    c_buy(api, sid, "standard")
    std = c_ok(api, "GET", f"/v1/apps/{sid}/entitlements")
    assert std["limits"] == {
        "friends_per_user": 3000, "groups_per_user": 500, "members_per_group": 200, "non_live_groups": None,
        "live_groups": 50, "net_new_groups_per_day": 10000, "free_message_history_days": 7, "users": None,
        "global_coverage": True,
    }
    assert not any(std["features"].values())
    assert std["mau"]["free"] == 10000 and std["mau"]["overage_allowed"] is True

    c_buy(api, sid, "pro")
    pro = c_ok(api, "GET", f"/v1/apps/{sid}/entitlements")
    assert (pro["limits"]["groups_per_user"], pro["limits"]["members_per_group"], pro["limits"]["live_groups"],
            pro["limits"]["free_message_history_days"]) == (1000, 2000, None, 30)
    assert pro["features"]["broadcast_to_all_users"] is False
    assert all(v for k, v in pro["features"].items() if k != "broadcast_to_all_users")
    assert pro["in_service"] is True


# ------------------------------------------------------------------ orders list
def test_orders_list_shows_each_status(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="2000.00")
    sid = c_app(api)["sdkappid"]
    first = c_buy(api, sid)["order"]["order_id"]
    second = c_buy(api, sid)["order"]["order_id"]  # Apr 1 -> May 1
    third = c_buy(api, sid)["order"]["order_id"]  # May 1 -> Jun 1
    assert [o["status"] for o in orders(api, sid)] == ["active", "pending", "pending"]
    api.clock("2026-04-15T00:00:00Z")
    assert [(o["order_id"], o["status"]) for o in orders(api, sid)] == [
        (first, "expired"), (second, "active"), (third, "pending")]
    c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {})
    assert [o["status"] for o in orders(api, sid)] == ["expired", "refunded", "refunded"]
    page = c_ok(api, "GET", f"/v1/apps/{sid}/orders?limit=2")
    assert [o["order_id"] for o in page["items"]] == [first, second] and page["next_token"]
    rest = c_ok(api, "GET", f"/v1/apps/{sid}/orders?limit=2&next_token={page['next_token']}")
    assert [o["order_id"] for o in rest["items"]] == [third]


# ------------------------------------------------------------------ vouchers
def test_voucher_is_used_once(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    v = api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "50.00"})
    assert (v["amount"], v["expires_at"], v["used_by_order"]) == ("50.00", None, None)
    sid = c_app(api)["sdkappid"]
    r = c_buy(api, sid, voucher_id=v["voucher_id"])
    assert (r["order"]["voucher_amount"], r["order"]["paid_cash"]) == ("50.00", "349.00")
    assert r["balance"]["cash"] == "651.00"
    again = customer(api, "POST", f"/v1/apps/{sid}/purchases",
                     {"edition": "standard", "months": 1, "voucher_id": v["voucher_id"]})
    assert (again.status, again.code) == (409, "conflict")
    assert api.balance()["cash"] == "651.00" and len(orders(api, sid)) == 1
    unknown = customer(api, "POST", f"/v1/apps/{sid}/purchases",
                       {"edition": "standard", "months": 1, "voucher_id": "v-nope"})
    assert (unknown.status, unknown.code) == (404, "not_found")


def test_expired_voucher_is_refused(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    v = api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "50.00", "expires_at": "2026-03-05T00:00:00Z"})
    assert v["expires_at"] == "2026-03-05T00:00:00Z"
    sid = c_app(api)["sdkappid"]
    api.clock("2026-03-05T00:00:00Z")
    r = customer(api, "POST", f"/v1/apps/{sid}/purchases",
                 {"edition": "standard", "months": 1, "voucher_id": v["voucher_id"]})
    assert (r.status, r.code) == (409, "conflict")
    assert api.balance()["cash"] == "1000.00" and orders(api, sid) == []
    (listed,) = c_ok(api, "GET", "/v1/accounts/acme/vouchers")["items"]
    assert listed["used_by_order"] is None


def test_voucher_excess_over_the_price_is_lost(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="10.00")
    v = api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "500.00"})
    sid = c_app(api)["sdkappid"]
    r = c_buy(api, sid, voucher_id=v["voucher_id"])
    o = r["order"]
    assert (o["price"], o["voucher_amount"], o["paid_cash"], o["paid_gift"]) == ("399.00", "399.00", "0.00", "0.00")
    assert o["periods"][0]["paid_cash"] == "0.00"
    assert r["balance"] == {"cash": "10.00", "gift": "0.00", "total": "10.00"}
    # the refund of a vouchered order gives nothing back (voucher never refunded), and still disables
    api.clock("2026-03-02T00:00:00Z")
    r = c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {})
    assert r["refund"]["total"] == "0.00" and r["app"]["status"] == "disabled"
    assert r["balance"]["total"] == "10.00"
    assert_ledger_matches_balance(api)


def test_voucher_of_another_account_is_not_found(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    api.account("beta")
    v = api.ok("POST", "/v1/accounts/beta/vouchers", {"amount": "50.00"})
    sid = c_app(api)["sdkappid"]
    r = customer(api, "POST", f"/v1/apps/{sid}/purchases",
                 {"edition": "standard", "months": 1, "voucher_id": v["voucher_id"]})
    assert (r.status, r.code) == (404, "not_found")


# ------------------------------------------------------------------ cash / gift split
def test_prepaid_takes_cash_then_gift(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="100.00", gift="500.00")
    sid = c_app(api)["sdkappid"]
    r = c_buy(api, sid)
    assert (r["order"]["paid_cash"], r["order"]["paid_gift"]) == ("100.00", "299.00")
    assert r["order"]["periods"][0]["paid_cash"] == "100.00"
    assert r["balance"] == {"cash": "0.00", "gift": "201.00", "total": "201.00"}
    entry = ledger(api)[-1]
    assert (entry["kind"], entry["cash"], entry["gift"], entry["balance_cash"], entry["balance_gift"]) == (
        "purchase", "-100.00", "-299.00", "0.00", "201.00")


def test_multi_month_split_keeps_the_ratio_per_period(api):
    api.clock("2026-01-15T00:00:00Z")
    api.account("acme", cash="400.00", gift="797.00")
    sid = c_app(api)["sdkappid"]
    order = c_buy(api, sid, "standard", 3)["order"]
    assert [(p["paid_cash"], p["paid_gift"]) for p in order["periods"]] == [
        ("133.34", "265.66"), ("133.33", "265.67"), ("133.33", "265.67")]
    api.clock("2026-02-20T00:00:00Z")
    r = c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {})
    # 726.75 x 266.66 / 798.00 = 242.85 cash
    assert (r["refund"]["total"], r["refund"]["cash"], r["refund"]["gift"]) == ("726.75", "242.85", "483.90")


# ------------------------------------------------------------------ idempotency
def test_idempotent_purchase_same_key_same_body(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    sid = c_app(api)["sdkappid"]
    body = {"edition": "standard", "months": 1}
    first = customer(api, "POST", f"/v1/apps/{sid}/purchases", body, key="k-1")
    assert first.status == 201
    api.clock("2026-03-01T00:05:00Z")
    second = customer(api, "POST", f"/v1/apps/{sid}/purchases", body, key="k-1")
    assert (second.status, second.body) == (201, first.body)
    assert len(orders(api, sid)) == 1
    assert api.balance()["cash"] == "601.00" and len(ledger(api)) == 2
    other = customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 2}, key="k-1")
    assert (other.status, other.code) == (409, "idempotency_key_reused")
    assert len(orders(api, sid)) == 1 and api.balance()["cash"] == "601.00"
    # another key acts again
    assert customer(api, "POST", f"/v1/apps/{sid}/purchases", body, key="k-2").status == 201
    assert len(orders(api, sid)) == 2


def test_idempotent_topup_and_refund(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    body = {"amount": "399.00", "kind": "cash"}
    first = api.call("POST", "/v1/accounts/acme/topups", body, key="t-1")
    second = api.call("POST", "/v1/accounts/acme/topups", body, key="t-1")
    assert first.status == second.status == 201 and first.body == second.body
    assert api.balance()["cash"] == "399.00"
    assert api.call("POST", "/v1/accounts/acme/topups", {"amount": "1.00", "kind": "cash"}, key="t-1").code == (
        "idempotency_key_reused")
    sid = c_app(api)["sdkappid"]
    c_buy(api, sid)
    api.clock("2026-03-11T00:00:00Z")
    r1 = customer(api, "POST", f"/v1/apps/{sid}/refunds", {}, key="r-1")
    r2 = customer(api, "POST", f"/v1/apps/{sid}/refunds", {}, key="r-1")
    assert r1.status == r2.status == 201 and r1.body == r2.body
    assert api.balance()["cash"] == "270.29"
    assert [e["kind"] for e in ledger(api)] == ["topup", "purchase", "refund"]


# ------------------------------------------------------------------ the ledger property
_accounts = itertools.count()

BUY = st.tuples(st.just("buy"), st.integers(0, 1), st.sampled_from(["standard", "pro"]), st.integers(1, 3),
                st.booleans())
OPS = st.lists(
    st.one_of(
        BUY,
        BUY,
        st.tuples(st.just("topup"), st.sampled_from(["cash", "gift"]), st.integers(1, 120000)),
        st.tuples(st.just("refund"), st.integers(0, 3)),
        st.tuples(st.just("voucher"), st.integers(1, 90000)),
        st.tuples(st.just("wait"), st.integers(1, 20 * 24)),
    ),
    min_size=1,
    max_size=8,
)


START_BALANCE = st.one_of(st.sampled_from([0, 39899, 69900, 150000, 300000]), st.integers(0, 300000))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, start_cash=START_BALANCE, start_gift=START_BALANCE)
@example(  # buy, renew with a voucher, upgrade with credit, refund, reactivate, downgrade attempt
    ops=[("voucher", 5000), ("buy", 0, "standard", 2, False), ("wait", 240), ("buy", 0, "standard", 1, True),
         ("buy", 0, "pro", 1, False), ("wait", 100), ("refund", 1), ("buy", 0, "standard", 1, False),
         ("buy", 0, "pro", 2, False), ("buy", 0, "standard", 1, False)],
    start_cash=150000, start_gift=100001,
)
def test_ledger_sums_to_the_balance_under_random_operations(api, ops, start_cash, start_gift):
    """Random top-ups, vouchers, purchases (new/renewal/upgrade/downgrade attempts), refunds and
    waits: after every step the ledger sums to the balance, nothing goes negative, a refused
    purchase writes nothing, and every balance change is explained by the answer that caused it."""
    account = f"p{next(_accounts)}"
    cash, gift = Decimal(start_cash) / 100, Decimal(start_gift) / 100  # the model's balance
    api.account(account, cash=f"{cash:.2f}" if start_cash else None, gift=f"{gift:.2f}" if start_gift else None)
    sids = [c_app(api, account)["sdkappid"] for _ in range(2)]
    vouchers: list[str] = []
    bought: list[int] = []

    for op in ops:
        n_ledger = len(ledger(api, account))
        if op[0] == "topup":
            _, kind, cents = op
            amount = Decimal(cents) / 100
            api.ok("POST", f"/v1/accounts/{account}/topups", {"amount": f"{amount:.2f}", "kind": kind})
            cash, gift = (cash + amount, gift) if kind == "cash" else (cash, gift + amount)
        elif op[0] == "voucher":
            vouchers.append(api.ok("POST", f"/v1/accounts/{account}/vouchers",
                                   {"amount": f"{Decimal(op[1]) / 100:.2f}"})["voucher_id"])
        elif op[0] == "buy":
            _, which, edition, months, use_voucher = op
            body = {"edition": edition, "months": months}
            if use_voucher and vouchers:
                body["voucher_id"] = vouchers[-1]
            r = customer(api, "POST", f"/v1/apps/{sids[which]}/purchases", body, account=account)
            assert r.status in (201, 402, 409), r.body
            event(f"purchase {r.status}{' upgrade' if r.status == 201 and r.body['credit'] else ''}")
            if r.status == 201:
                o, credit = r.body["order"], r.body["credit"]
                assert Decimal(o["voucher_amount"]) + Decimal(o["paid_cash"]) + Decimal(o["paid_gift"]) == Decimal(
                    o["price"])
                assert sum(Decimal(p["paid_cash"]) + Decimal(p["paid_gift"]) for p in o["periods"]) == Decimal(
                    o["paid_cash"]) + Decimal(o["paid_gift"])
                if credit:
                    cash, gift = cash + Decimal(credit["cash"]), gift + Decimal(credit["gift"])
                cash, gift = cash - Decimal(o["paid_cash"]), gift - Decimal(o["paid_gift"])
                if "voucher_id" in body:
                    vouchers.pop()
                bought.append(sids[which])
                assert len(ledger(api, account)) == n_ledger + (2 if credit else 1)
            else:
                assert len(ledger(api, account)) == n_ledger  # refused: nothing written
        elif op[0] == "refund":
            sid = bought[-1] if bought and op[1] else sids[0]
            quote = customer(api, "GET", f"/v1/apps/{sid}/refund-quote", account=account)
            r = customer(api, "POST", f"/v1/apps/{sid}/refunds", {}, account=account)
            assert r.status in (201, 409), r.body
            event(f"refund {r.status}")
            assert (quote.status, r.status) in ((200, 201), (409, 409))
            if r.status == 201:
                ref = r.body["refund"]
                assert ref == quote.body  # same instant, same numbers
                assert Decimal(ref["cash"]) + Decimal(ref["gift"]) == Decimal(ref["total"])
                assert Decimal(ref["total"]) >= 0 and Decimal(ref["cash"]) >= 0 and Decimal(ref["gift"]) >= 0
                assert Decimal(ref["total"]) <= Decimal(ref["current_amount"]) + Decimal(ref["not_started_amount"])
                cash, gift = cash + Decimal(ref["cash"]), gift + Decimal(ref["gift"])
                assert r.body["app"]["status"] == "disabled"
        else:
            now = parse_instant(api.ok("GET", "/v1/test/clock")["now"])
            api.clock(iso(now + timedelta(hours=op[1])))

        bal = api.balance(account)
        assert (bal["cash"], bal["gift"]) == (f"{cash:.2f}", f"{gift:.2f}")
        assert Decimal(bal["cash"]) >= 0 and Decimal(bal["gift"]) >= 0
        assert_ledger_matches_balance(api, account)
