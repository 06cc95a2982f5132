"""Plugins (push, search) and add-ons (desk, chatbot, call) through the API (billing-rules 2, 3, 5):
the plugin period rule in UTC and Asia/Shanghai, catalog prices, renewal appending, refunds with the
formula (the app stays enabled), the push quota, seats, bots and message packs, the call trial once
per app, entitlements, 402 and idempotency. Exact string amounts throughout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import plugins as rules
from chalicelib.domain.orders import plugin_period_bounds
from chalicelib.store.dynamodb.models import AppModel, due_shard


def c_call(api, method, path, body=None, account="acme", **kw):
    return api.call(method, path, body, role="customer", account=account, **kw)


def c_ok(api, method, path, body=None, expect=None, account="acme", **kw):
    return api.ok(method, path, body, expect=expect, role="customer", account=account, **kw)


def plugin(api, sid, name="push", months=1, **kw):
    return c_ok(api, "POST", f"/v1/apps/{sid}/plugins", {"plugin": name, "months": months}, **kw)


def addon(api, sid, name, tier=None, quantity=None, months=1, expect=None, **kw):
    body = {"addon": name, "months": months}
    if tier is not None:
        body["tier"] = tier
    if quantity is not None:
        body["quantity"] = quantity
    return c_ok(api, "POST", f"/v1/apps/{sid}/addons", body, expect=expect, **kw)


def spans(order):
    return [(p["starts_at"], p["ends_at"]) for p in order["periods"]]


def ledger(api, account="acme"):
    return api.ok("GET", f"/v1/accounts/{account}/ledger?limit=1000")["items"]


def orders(api, sid):
    return c_ok(api, "GET", f"/v1/apps/{sid}/orders")["items"]


def entitlements(api, sid):
    return api.ok("GET", f"/v1/apps/{sid}/entitlements", role="service")


def start(api, now="2026-03-10T14:00:00Z", cash="5000.00", gift=None):
    api.clock(now)
    api.account("acme", cash=cash, gift=gift)
    return int(c_ok(api, "POST", "/v1/accounts/acme/apps", {"name": "chat", "region": "eu"})["sdkappid"])


def assert_ledger_matches_balance(api):
    bal = api.balance()
    assert api.ledger_sum() == (bal["cash"], bal["gift"])


# ------------------------------------------------------------------ the plugin period rule (domain)
def test_plugin_period_ends_at_local_midnight_of_day_t_next_month():
    utc, sh = ZoneInfo("UTC"), ZoneInfo("Asia/Shanghai")
    s = datetime(2026, 3, 10, 14, tzinfo=UTC)
    assert plugin_period_bounds(s, 1, utc) == [(s, datetime(2026, 4, 10, tzinfo=UTC))]
    # 2026-03-10 14:00 in Shanghai is 06:00Z; it ends 2026-04-10 00:00 +08:00 = 2026-04-09 16:00Z
    s_sh = datetime(2026, 3, 10, 6, tzinfo=UTC)
    assert plugin_period_bounds(s_sh, 1, sh) == [(s_sh, datetime(2026, 4, 9, 16, tzinfo=UTC))]
    # the local day decides: 2026-03-09 20:00Z is already March 10 in Shanghai, still March 9 in UTC
    late = datetime(2026, 3, 9, 20, tzinfo=UTC)
    assert plugin_period_bounds(late, 1, utc)[0][1] == datetime(2026, 4, 9, tzinfo=UTC)
    assert plugin_period_bounds(late, 1, sh)[0][1] == datetime(2026, 4, 9, 16, tzinfo=UTC)


def test_plugin_periods_come_from_the_anchor_and_clamp_to_short_months():
    utc = ZoneInfo("UTC")
    s = datetime(2026, 1, 31, 8, tzinfo=UTC)
    ends = [e for _, e in plugin_period_bounds(s, 4, utc)]
    assert ends == [datetime(2026, m, d, tzinfo=UTC) for m, d in ((2, 28), (3, 31), (4, 30), (5, 31))]
    bounds = plugin_period_bounds(s, 4, utc)
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(3)) and bounds[0][0] == s


def test_push_quota_log_keeps_the_last_changes_and_two_days_back():
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    log = [(t0 + timedelta(hours=h), 100 + h) for h in range(30)]  # 30 changes within 2 days
    now = t0 + timedelta(hours=30)
    kept = rules.record_quota(log, now, 500)
    assert kept == log + [(now, 500)]  # everything within the 2-day window stays
    later = now + timedelta(days=5)
    kept = rules.record_quota(kept, later, 600)
    assert kept == (log + [(now, 500), (later, 600)])[-20:]  # the last 20 changes, the new one included
    # a change at the same instant replaces the earlier one
    assert rules.record_quota([(t0, 100)], t0, 150) == [(t0, 150)]
    # the change in force at the window's start survives even beyond the last 20
    old = [(t0, 120)] + [(later + timedelta(minutes=m), 100 + m) for m in range(25)]
    kept = rules.record_quota(old, later + timedelta(hours=1), 130)
    assert (t0, 120) in kept and len(kept) == 27


# ------------------------------------------------------------------ buying plugins
@pytest.mark.parametrize(
    ("billing_tz", "now", "ends"),
    [
        ("UTC", "2026-03-10T14:00:00Z", ["2026-04-10T00:00:00Z", "2026-05-10T00:00:00Z", "2026-06-10T00:00:00Z"]),
        ("Asia/Shanghai", "2026-03-10T06:00:00Z",
         ["2026-04-09T16:00:00Z", "2026-05-09T16:00:00Z", "2026-06-09T16:00:00Z"]),
    ],
)
def test_plugin_purchase_runs_to_local_midnight_of_day_t(api, billing_tz, now, ends):
    """2026-03-10 14:00 local -> periods end 2026-04-10, 05-10, 06-10 at 00:00 local."""
    sid = start(api, now)
    r = plugin(api, sid, "search", 3)
    o = r["order"]
    assert spans(o) == list(zip([now] + ends[:-1], ends, strict=True))
    assert (o["product"], o["kind"], o["months"], o["price"], o["starts_at"], o["ends_at"], o["status"]) == (
        "search", "new", 3, "1197.00", now, ends[-1], "active")
    assert [p["paid_cash"] for p in o["periods"]] == ["399.00"] * 3
    assert r["balance"] == {"cash": "3803.00", "gift": "0.00", "total": "3803.00"} and r["credit"] is None
    assert r["app"]["status"] == "enabled" and r["app"]["edition"] == "developer"
    app = AppModel.get(sid)
    assert app.until("search") == datetime.fromisoformat(ends[-1])


def test_plugin_prices_come_from_the_catalog(api):
    sid = start(api, cash="1000.00")
    assert plugin(api, sid, "push")["order"]["price"] == "299.00"
    r = plugin(api, sid, "search")
    assert r["order"]["price"] == "399.00" and r["balance"]["cash"] == "302.00"
    assert [(e["kind"], e["cash"]) for e in ledger(api)] == [
        ("topup", "1000.00"), ("purchase", "-299.00"), ("purchase", "-399.00")]
    assert_ledger_matches_balance(api)


def test_renewal_of_a_plugin_in_force_appends_after_its_end(api):
    sid = start(api)
    first = plugin(api, sid, "push")["order"]
    api.clock("2026-03-15T09:30:00Z")
    r = plugin(api, sid, "push", 2)
    o = r["order"]
    assert (o["kind"], o["starts_at"], o["ends_at"], o["status"], o["price"]) == (
        "renewal", first["ends_at"], "2026-06-10T00:00:00Z", "pending", "598.00")
    assert spans(o) == [("2026-04-10T00:00:00Z", "2026-05-10T00:00:00Z"),
                        ("2026-05-10T00:00:00Z", "2026-06-10T00:00:00Z")]
    assert AppModel.get(sid).until("push") == datetime(2026, 6, 10, tzinfo=UTC)
    assert entitlements(api, sid)["plugins"]["push"]["ends_at"] == "2026-06-10T00:00:00Z"
    # after the first order ran out the renewal is the one in force, and a further renewal follows it
    api.clock("2026-04-20T00:00:00Z")
    assert [x["status"] for x in orders(api, sid)] == ["expired", "active"]
    assert plugin(api, sid, "push")["order"]["starts_at"] == "2026-06-10T00:00:00Z"
    # once nothing is in force a purchase starts now again
    api.clock("2026-08-01T12:00:00Z")
    o = plugin(api, sid, "push")["order"]
    assert (o["kind"], o["starts_at"], o["ends_at"]) == ("new", "2026-08-01T12:00:00Z", "2026-09-01T00:00:00Z")


# ------------------------------------------------------------------ refunds
def test_plugin_refund_follows_the_formula_and_the_app_stays_enabled(api):
    """Push bought 2026-03-10 14:00 (cash 100.00 + gift 199.00); refund 2026-03-20 14:00: the period
    is 30 d 10 h; used value = 299 x 10 d / 30 d 10 h = 98.301... -> 98.30; refund 200.70; cash
    200.70 x 100/299 = 67.12, gift 133.58."""
    sid = start(api, cash="100.00", gift="500.00")
    o = plugin(api, sid, "push")["order"]
    assert (o["paid_cash"], o["paid_gift"]) == ("100.00", "199.00")
    api.clock("2026-03-20T14:00:00Z")
    quote = c_ok(api, "GET", f"/v1/apps/{sid}/refund-quote?product=push")
    r = c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {"product": "push"})
    assert r["refund"] == quote == {
        "product": "push", "at": "2026-03-20T14:00:00Z", "current_amount": "299.00", "not_started_amount": "0.00",
        "used_value": "98.30", "total": "200.70", "cash": "67.12", "gift": "133.58",
    }
    assert r["app"]["status"] == "enabled" and r["app"]["disabled_at"] is None
    assert r["balance"] == {"cash": "67.12", "gift": "434.58", "total": "501.70"}
    (refunded,) = orders(api, sid)
    assert refunded["status"] == "refunded" and refunded["ends_at"] == "2026-03-20T14:00:00Z"
    assert AppModel.get(sid).until("push") == datetime(2026, 3, 20, 14, tzinfo=UTC)
    assert entitlements(api, sid)["plugins"] == {}
    assert c_call(api, "POST", f"/v1/apps/{sid}/refunds", {"product": "push"}).status == 409
    assert_ledger_matches_balance(api)


def test_plugin_refund_with_a_renewal_returns_the_not_started_periods(api):
    sid = start(api)
    plugin(api, sid, "search")
    api.clock("2026-03-15T00:00:00Z")
    plugin(api, sid, "search", 2)
    api.clock("2026-03-20T14:00:00Z")
    r = c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {"product": "search"})["refund"]
    # used = 399 x 10 d / 30 d 10 h = 131.178... -> 131.18; 399.00 + 798.00 - 131.18
    assert (r["current_amount"], r["not_started_amount"], r["used_value"], r["total"]) == (
        "399.00", "798.00", "131.18", "1065.82")
    assert AppModel.get(sid).until("search") == datetime(2026, 3, 20, 14, tzinfo=UTC)
    assert [o["status"] for o in orders(api, sid)] == ["refunded", "refunded"]


def test_addon_refund_uses_the_monthly_price_of_what_was_bought(api):
    """Desk with 5 seats (299.00 + 2 x 50.00 = 399.00 a month), 2 months from 2026-03-01; refund
    2026-03-11: used = 10/31 x 399 = 128.71; 399.00 + 399.00 - 128.71 = 669.29."""
    sid = start(api, "2026-03-01T00:00:00Z")
    addon(api, sid, "desk", quantity=5, months=2)
    api.clock("2026-03-11T00:00:00Z")
    r = c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {"product": "desk"})
    assert (r["refund"]["used_value"], r["refund"]["total"]) == ("128.71", "669.29")
    assert r["app"]["status"] == "enabled"
    assert "desk" not in entitlements(api, sid)["addons"]


def test_refund_of_bots_and_packs_bought_together_prices_each_order(api):
    """Bots and 0.00 packs bought at the same instant: each period is valued at its own order's price."""
    sid = start(api, "2026-03-01T00:00:00Z")
    addon(api, sid, "chatbot", "basic", 2)
    addon(api, sid, "chatbot", "message_pack", 3)
    api.clock("2026-03-11T00:00:00Z")
    r = c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {"product": "chatbot"})["refund"]
    # used = 10/31 x 400 = 129.03; the packs paid 0.00 and use 0.00
    assert (r["current_amount"], r["used_value"], r["total"]) == ("400.00", "129.03", "270.97")


# ------------------------------------------------------------------ push quota
def test_push_quota_needs_the_plugin_and_at_least_100(api):
    sid = start(api)
    path = f"/v1/apps/{sid}/plugins/push/quota"
    r = c_call(api, "PUT", path, {"daily_broadcast_calls": 99})
    assert (r.status, r.code) == (400, "invalid_request")
    assert c_call(api, "PUT", path, {"daily_broadcast_calls": "150"}).status == 400
    r = c_call(api, "PUT", path, {"daily_broadcast_calls": 150})
    assert (r.status, r.code) == (409, "conflict")

    plugin(api, sid, "push")
    app = AppModel.get(sid)
    assert (app.push_quota, app.push_billing_shard) == (100, None)
    assert [(c.at, int(c.quota)) for c in app.push_quota_log] == [(datetime(2026, 3, 10, 14, tzinfo=UTC), 100)]
    api.clock("2026-03-11T08:00:00Z")
    assert c_ok(api, "PUT", path, {"daily_broadcast_calls": 150}, expect=200) == {"daily_broadcast_calls": 150}
    app = AppModel.get(sid)
    assert app.push_quota == 150 and app.push_billing_shard == due_shard(sid)
    assert [(c.at, int(c.quota)) for c in app.push_quota_log] == [
        (datetime(2026, 3, 10, 14, tzinfo=UTC), 100), (datetime(2026, 3, 11, 8, tzinfo=UTC), 150)]
    assert entitlements(api, sid)["plugins"]["push"]["daily_broadcast_calls"] == 150
    # back to 100: the app stays in the push-billing index (the billing job takes it out)
    assert c_ok(api, "PUT", path, {"daily_broadcast_calls": 100}, expect=200) == {"daily_broadcast_calls": 100}
    app = AppModel.get(sid)
    assert app.push_quota == 100 and app.push_billing_shard == due_shard(sid)
    # after a refund there is no plugin in force; bought again, it starts at the included 100
    c_ok(api, "PUT", path, {"daily_broadcast_calls": 300}, expect=200)
    c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {"product": "push"})
    assert c_call(api, "PUT", path, {"daily_broadcast_calls": 150}).status == 409
    api.clock("2026-03-12T00:00:00Z")
    plugin(api, sid, "push")
    assert entitlements(api, sid)["plugins"]["push"]["daily_broadcast_calls"] == 100


def test_a_raised_push_quota_is_billed_daily(api):
    """Worked example 7: quota 150 in force all of 2026-05-10 -> a daily bill of 50 x 10.00 = 500.00."""
    sid = start(api, "2026-05-01T00:00:00Z")
    plugin(api, sid, "push")
    c_ok(api, "PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 150}, expect=200)
    api.clock("2026-05-11T00:30:00Z")
    api.ok("POST", "/v1/jobs/push-quota-billing/runs", {"at": "2026-05-11T00:30:00Z"}, expect=200)
    bills = api.ok("GET", "/v1/accounts/acme/bills?period=2026-05-10")["items"]
    assert [(b["kind"], b["total"], [(li["item"], li["amount"]) for li in b["lines"]]) for b in bills] == [
        ("daily", "500.00", [("push_api_quota", "500.00")])]


# ------------------------------------------------------------------ add-ons
def test_desk_includes_three_seats_and_charges_extra_seats(api):
    sid = start(api)
    o = addon(api, sid, "desk")["order"]
    assert (o["product"], o["tier"], o["quantity"], o["price"]) == ("desk", "standard", 3, "299.00")
    assert entitlements(api, sid)["addons"]["desk"] == {
        "tier": "standard", "seats": 3, "included_seats": 3, "ends_at": "2026-04-10T00:00:00Z"}
    # a renewal may change the seats: 5 seats = 299.00 + 2 x 50.00, appended after the current end
    o = addon(api, sid, "desk", quantity=5, months=2)["order"]
    assert (o["kind"], o["price"], o["starts_at"], o["quantity"]) == (
        "renewal", "798.00", "2026-04-10T00:00:00Z", 5)
    api.clock("2026-04-10T00:00:00Z")
    assert entitlements(api, sid)["addons"]["desk"]["seats"] == 5
    r = c_call(api, "POST", f"/v1/apps/{sid}/addons", {"addon": "desk", "quantity": 2, "months": 1})
    assert (r.status, r.code) == (400, "invalid_request")


def test_chatbot_tiers_per_bot_and_free_message_packs(api):
    sid = start(api)
    assert addon(api, sid, "chatbot", "advanced", 1)["order"]["price"] == "600.00"
    r = addon(api, sid, "chatbot", "message_pack", 3, months=2)
    o = r["order"]
    assert (o["tier"], o["quantity"], o["price"], o["kind"], o["starts_at"]) == (
        "message_pack", 3, "0.00", "new", "2026-03-10T14:00:00Z")
    assert r["balance"]["cash"] == "4400.00"
    # packs do not renew: more packs start now, beside the others
    assert addon(api, sid, "chatbot", "message_pack", 1)["order"]["starts_at"] == "2026-03-10T14:00:00Z"
    assert entitlements(api, sid)["addons"]["chatbot"] == {
        "tier": "advanced", "bots": 1, "message_packs": 4, "messages": 400000, "ends_at": "2026-05-10T00:00:00Z"}
    # a tier change while another tier is in force is refused
    r = c_call(api, "POST", f"/v1/apps/{sid}/addons", {"addon": "chatbot", "tier": "basic", "months": 1})
    assert (r.status, r.code) == (409, "conflict")
    # the same tier renews; basic is 200.00 per bot on another app
    assert addon(api, sid, "chatbot", "advanced", 1)["order"]["kind"] == "renewal"
    other = int(c_ok(api, "POST", "/v1/accounts/acme/apps", {"name": "b", "region": "eu"})["sdkappid"])
    assert addon(api, other, "chatbot", "basic", 3)["order"]["price"] == "600.00"
    # `tier` is optional: the first listed tier (basic for a chatbot; 1v1 for a call)
    r = c_call(api, "POST", f"/v1/apps/{other}/addons", {"addon": "chatbot", "months": 1})
    assert (r.status, r.body["order"]["tier"], r.body["order"]["kind"]) == (201, "basic", "renewal")
    third = int(c_ok(api, "POST", "/v1/accounts/acme/apps", {"name": "c", "region": "eu"})["sdkappid"])
    r = c_call(api, "POST", f"/v1/apps/{third}/addons", {"addon": "call", "months": 1})
    assert (r.status, r.body["order"]["tier"], r.body["order"]["price"]) == (201, "1v1", "199.00")


def test_call_trial_once_per_app_then_paid_tiers(api):
    sid = start(api)
    r = addon(api, sid, "call", "trial")
    o = r["order"]
    assert (o["tier"], o["price"], o["starts_at"], o["ends_at"]) == (
        "trial", "0.00", "2026-03-10T14:00:00Z", "2026-03-17T14:00:00Z")
    assert r["balance"]["cash"] == "5000.00"
    assert entitlements(api, sid)["addons"]["call"] == {
        "tier": "trial", "trial_ends_at": "2026-03-17T14:00:00Z", "ends_at": "2026-03-17T14:00:00Z"}
    r = c_call(api, "POST", f"/v1/apps/{sid}/addons", {"addon": "call", "tier": "trial", "months": 1})
    assert (r.status, r.code) == (409, "conflict")
    api.clock("2026-03-18T00:00:00Z")  # ran out: still used
    assert "call" not in entitlements(api, sid)["addons"]
    assert c_call(api, "POST", f"/v1/apps/{sid}/addons", {"addon": "call", "tier": "trial", "months": 1}).status == 409
    o = addon(api, sid, "call", "1v1")["order"]
    assert (o["price"], o["starts_at"], o["ends_at"]) == ("199.00", "2026-03-18T00:00:00Z", "2026-04-18T00:00:00Z")
    r = c_call(api, "POST", f"/v1/apps/{sid}/addons", {"addon": "call", "tier": "group", "months": 1})
    assert (r.status, r.code) == (409, "conflict")
    assert addon(api, sid, "call", "1v1")["order"]["kind"] == "renewal"

    # another app has its own trial; a paid tier may be bought during it
    other = int(c_ok(api, "POST", "/v1/accounts/acme/apps", {"name": "b", "region": "eu"})["sdkappid"])
    addon(api, other, "call", "trial")
    assert addon(api, other, "call", "group")["order"]["price"] == "599.00"
    assert entitlements(api, other)["addons"]["call"] == {
        "tier": "group", "trial_ends_at": "2026-03-25T00:00:00Z", "ends_at": "2026-04-18T00:00:00Z"}
    # the trial is one 7-day period; call has no quantity
    third = int(c_ok(api, "POST", "/v1/accounts/acme/apps", {"name": "c", "region": "eu"})["sdkappid"])
    for body in ({"addon": "call", "tier": "trial", "months": 2}, {"addon": "call", "tier": "1v1", "quantity": 2,
                                                                    "months": 1}):
        r = c_call(api, "POST", f"/v1/apps/{third}/addons", body)
        assert (r.status, r.code) == (400, "invalid_request")


# ------------------------------------------------------------------ entitlements
def test_entitlements_list_the_plugins_and_addons_in_force(api):
    sid = start(api)
    ent = entitlements(api, sid)
    assert (ent["plugins"], ent["addons"]) == ({}, {})
    plugin(api, sid, "push")
    plugin(api, sid, "search", 2)
    addon(api, sid, "desk", quantity=4)
    c_ok(api, "PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 120}, expect=200)
    ent = c_ok(api, "GET", f"/v1/apps/{sid}/entitlements")
    assert ent["plugins"] == {
        "push": {"ends_at": "2026-04-10T00:00:00Z", "daily_broadcast_calls": 120,
                 "included_daily_broadcast_calls": 100, "messages_per_month": 30000000},
        "search": {"ends_at": "2026-05-10T00:00:00Z", "stored_messages_per_month": 1500000,
                   "requests_per_month": 300000},
    }
    assert ent["addons"] == {"desk": {"tier": "standard", "seats": 4, "included_seats": 3,
                                      "ends_at": "2026-04-10T00:00:00Z"}}
    assert ent["in_service"] is True and ent["edition"] == "developer"
    api.clock("2026-04-10T00:00:00Z")  # push and desk ran out; search runs on
    ent = entitlements(api, sid)
    assert (list(ent["plugins"]), ent["addons"]) == (["search"], {})


# ------------------------------------------------------------------ refusals
def test_insufficient_balance_is_402_and_writes_nothing(api):
    sid = start(api, cash="100.00", gift="100.00")
    r = c_call(api, "POST", f"/v1/apps/{sid}/plugins", {"plugin": "push", "months": 2})
    assert (r.status, r.code) == (402, "insufficient_balance")
    r = c_call(api, "POST", f"/v1/apps/{sid}/addons", {"addon": "chatbot", "tier": "advanced", "months": 1})
    assert (r.status, r.code) == (402, "insufficient_balance")
    assert orders(api, sid) == [] and len(ledger(api)) == 2
    assert api.balance() == {"cash": "100.00", "gift": "100.00", "total": "200.00"}
    assert AppModel.get(sid).until("push") is None
    # what the balance covers goes through: 100.00 cash then 99.00 gift
    o = addon(api, sid, "call", "1v1")["order"]
    assert (o["paid_cash"], o["paid_gift"]) == ("100.00", "99.00")


def test_plugins_need_an_enabled_app(api):
    sid = start(api, "2026-03-01T00:00:00Z")
    c_ok(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1})
    c_ok(api, "POST", f"/v1/apps/{sid}/refunds", {})  # disabled
    r = c_call(api, "POST", f"/v1/apps/{sid}/plugins", {"plugin": "push", "months": 1})
    assert (r.status, r.code) == (409, "not_in_service")
    r = c_call(api, "POST", f"/v1/apps/{sid}/addons", {"addon": "desk", "months": 1})
    assert (r.status, r.code) == (409, "not_in_service")
    c_ok(api, "DELETE", f"/v1/apps/{sid}", expect=200)  # reclaimed
    for path, body in ((f"/v1/apps/{sid}/plugins", {"plugin": "push", "months": 1}),
                       (f"/v1/apps/{sid}/addons", {"addon": "desk", "months": 1})):
        r = c_call(api, "POST", path, body)
        assert (r.status, r.code) == (410, "gone")
    assert c_call(api, "PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 100}).status == 410


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("plugins", {"plugin": "video", "months": 1}),
        ("plugins", {"plugin": "push", "months": 0}),
        ("plugins", {"plugin": "push", "months": 25}),
        ("plugins", {"plugin": "push"}),
        ("addons", {"addon": "desk", "tier": "gold", "months": 1}),
        ("addons", {"addon": "chatbot", "tier": "basic", "quantity": 0, "months": 1}),
        ("addons", {"addon": "video", "months": 1}),
    ],
)
def test_bad_plugin_requests_are_400(api, path, body):
    sid = start(api)
    r = c_call(api, "POST", f"/v1/apps/{sid}/{path}", body)
    assert (r.status, r.code) == (400, "invalid_request")


def test_another_accounts_app_is_not_found(api):
    sid = start(api)
    api.account("beta", cash="1000.00")
    r = c_call(api, "POST", f"/v1/apps/{sid}/plugins", {"plugin": "push", "months": 1}, account="beta")
    assert (r.status, r.code) == (404, "not_found")


# ------------------------------------------------------------------ idempotency
def test_idempotent_plugin_and_addon_purchases(api):
    sid = start(api, cash="1000.00")
    body = {"plugin": "push", "months": 1}
    first = c_call(api, "POST", f"/v1/apps/{sid}/plugins", body, key="p-1")
    api.clock("2026-03-10T14:05:00Z")
    second = c_call(api, "POST", f"/v1/apps/{sid}/plugins", body, key="p-1")
    assert first.status == second.status == 201 and first.body == second.body
    assert len(orders(api, sid)) == 1 and api.balance()["cash"] == "701.00"
    other = c_call(api, "POST", f"/v1/apps/{sid}/plugins", {"plugin": "push", "months": 2}, key="p-1")
    assert (other.status, other.code) == (409, "idempotency_key_reused")

    add = {"addon": "desk", "quantity": 4, "months": 1}
    first = c_call(api, "POST", f"/v1/apps/{sid}/addons", add, key="a-1")
    second = c_call(api, "POST", f"/v1/apps/{sid}/addons", add, key="a-1")
    assert first.status == second.status == 201 and first.body == second.body
    assert first.body["order"]["price"] == "349.00"
    assert len(orders(api, sid)) == 2 and api.balance()["cash"] == "352.00"
    assert_ledger_matches_balance(api)
