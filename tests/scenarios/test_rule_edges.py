"""Edges of the rules found in review, each through the API and the test clock:

- MAU proration counts every out-of-service span of the month (section 6), not only the last stop;
- a push plugin bought again after a gap does not bring its old quota back (section 6);
- deleting (reclaiming) an app still bills its usage already incurred (sections 5 and 7);
- every bill that leaves the account below zero has its own 24 h (section 7);
- the E+1 warning goes out even when the stop came first (section 7, example 8 in any zone)."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.store.dynamodb.models import AppModel, due_shard
from chalicelib.store.dynamodb.usage_models import UsageModel


def put_month_usage(sid: int, month: str, *, mau: int = 0, stored: int = 0, account: str = "acme") -> None:
    """A month's counters as ingestion leaves them (14,000 logins are not sent one by one)."""
    UsageModel(sid, month, account_id=account, month_shard=f"{month}#{due_shard(account)}",
               account_app=f"{account}#{sid}", mau=mau, push_messages=0, search_stored=stored,
               search_requests=0).save()


def bill_lines(api, period: str, kind: str = "monthly") -> list[tuple[str, int, str]]:
    items = api.ok("GET", f"/v1/accounts/acme/bills?period={period}")["items"]
    return [(x["item"], x["quantity"], x["amount"]) for b in items if b["kind"] == kind for x in b["lines"]]


# ------------------------------------------------------------------ MAU proration over spans
def test_an_app_stopped_for_arrears_and_enabled_again_pays_for_the_days_it_was_enabled(api):
    sid = api.paid_app("2026-08-01T00:00:00Z", "1197.00", "standard", 3)  # valid to Nov 1; cash 0
    put_month_usage(sid, "2026-08", mau=12_345)  # the August bill (35.18) puts the account in arrears
    api.clock("2026-09-05T00:00:00Z", run_jobs=True)  # stopped at 2026-09-02T02:15Z
    assert api.ok("GET", f"/v1/apps/{sid}")["stop_reason"] == "arrears"
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "100.00", "kind": "cash"})
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "enabled"
    put_month_usage(sid, "2026-09", mau=14_000)

    api.clock("2026-10-01T03:00:00Z", run_jobs=True)
    # off 2026-09-02T02:15Z .. 2026-09-05T00:00Z = 251,100 s of 2,592,000: 4,000 x 0.015 x 2,340,900/2,592,000
    assert bill_lines(api, "2026-09") == [("mau_overage", 4000, "54.19")]


def test_a_stopped_app_bought_again_before_settlement_is_prorated_to_its_stop(api):
    sid = api.paid_app("2026-08-16T00:00:00Z", "900.00")  # expires Sep 16 00:00; stopped at the 00:05 run of Sep 17
    put_month_usage(sid, "2026-09", mau=14_000)
    api.clock("2026-10-01T01:00:00Z", run_jobs=True)
    assert api.ok("GET", f"/v1/apps/{sid}")["stopped_at"] == "2026-09-17T00:05:00Z"
    api.buy(sid, "standard", 1)  # enabled again before the 02:00 settlement
    api.clock("2026-10-01T03:00:00Z", run_jobs=True)
    # enabled 16 days 5 minutes of 30: 60.00 x 1,382,700/2,592,000 = 32.0069...
    assert bill_lines(api, "2026-09") == [("mau_overage", 4000, "32.01")]


# ------------------------------------------------------------------ push quota after a gap
def test_a_push_plugin_bought_again_after_a_gap_starts_at_the_included_quota(api):
    sid = api.paid_app("2026-03-10T00:00:00Z", "30000.00", "standard", 3)
    api.ok("POST", f"/v1/apps/{sid}/plugins", {"plugin": "push", "months": 1})  # ends Apr 10 00:00
    api.ok("PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 150})
    api.clock("2026-04-10T12:00:00Z", run_jobs=True)
    api.ok("POST", f"/v1/apps/{sid}/plugins", {"plugin": "push", "months": 1})  # bought again at 12:00

    late = api.ok("POST", "/v1/usage/push", {"sdkappid": sid, "broadcast_calls": 150, "messages": 0,
                                             "at": "2026-04-10T06:00:00Z"}, expect=200, role="service")
    assert (late["quota"], late["accepted_calls"], late["rejected_calls"]) == (0, 0, 150)  # no plugin at 06:00
    now = api.ok("POST", "/v1/usage/push", {"sdkappid": sid, "broadcast_calls": 150, "messages": 0},
                 expect=200, role="service")
    assert (now["quota"], now["accepted_calls"]) == (100, 100)

    api.clock("2026-04-12T01:00:00Z", run_jobs=True)
    daily = [b["period"] for b in api.ok("GET", "/v1/accounts/acme/bills")["items"] if b["kind"] == "daily"]
    assert "2026-04-09" in daily and "2026-04-10" not in daily and "2026-04-11" not in daily


# ------------------------------------------------------------------ usage of a deleted app
def test_a_deleted_app_still_pays_its_month_usage_worked_example_9(api):
    sid = api.paid_app("2026-09-01T00:00:00Z", "500.00")
    put_month_usage(sid, "2026-09", mau=14_000)
    api.clock("2026-09-16T00:00:00Z", run_jobs=True)
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})  # disabled at midnight: enabled 15 of 30 days
    assert api.ok("DELETE", f"/v1/apps/{sid}")["status"] == "reclaimed"

    api.clock("2026-10-04T00:00:00Z", run_jobs=True)
    assert bill_lines(api, "2026-09") == [("mau_overage", 4000, "30.00")]
    assert list(UsageModel.query(sid, consistent_read=True)) == []  # billed, then gone


def test_a_deleted_app_still_pays_the_push_quota_of_its_last_day_worked_example_7(api):
    sid = api.paid_app("2026-05-01T00:00:00Z", "2000.00", "standard", 1, plugins=("push",))
    api.clock("2026-05-09T12:00:00Z", run_jobs=True)
    api.ok("PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 150})  # in force all May 10
    api.clock("2026-05-10T23:00:00Z", run_jobs=True)
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})
    api.ok("DELETE", f"/v1/apps/{sid}")

    api.clock("2026-05-13T01:00:00Z", run_jobs=True)
    assert bill_lines(api, "2026-05-10", "daily") == [("push_api_quota", 50, "500.00")]
    assert bill_lines(api, "2026-05-11", "daily") == []  # ended with the app
    app = AppModel.get(sid)
    assert app.push_quota_log is None and app.push_billing_shard is None  # released once billed


# ------------------------------------------------------------------ arrears per bill
def test_a_later_bill_in_arrears_stops_apps_enabled_since_the_first_stop(api):
    api.clock("2026-05-01T00:00:00Z")
    api.account("acme", cash="1207.00")
    first = api.app()
    api.buy(first, "standard", 3)  # valid to Aug 1; cash 10.00
    put_month_usage(first, "2026-05", stored=1_560_001)  # May bill 12.00 -> -2.00
    api.clock("2026-06-03T00:00:00Z", run_jobs=True)
    assert api.ok("GET", "/v1/accounts/acme")["status"] == "arrears"
    assert api.ok("GET", f"/v1/apps/{first}")["stop_reason"] == "arrears"
    second = api.app(name="second")  # created while in arrears
    put_month_usage(second, "2026-06", stored=1_560_001)  # June bill 12.00, posted 2026-07-01T02:00Z

    api.clock("2026-07-02T01:00:00Z", run_jobs=True)
    assert api.ok("GET", f"/v1/apps/{second}")["status"] == "enabled"  # its 24 h are not over
    api.clock("2026-07-02T03:00:00Z", run_jobs=True)
    app = api.ok("GET", f"/v1/apps/{second}")
    assert (app["status"], app["stop_reason"], app["stopped_at"]) == ("stopped", "arrears", "2026-07-02T02:15:00Z")
    notes = api.ok("GET", "/v1/accounts/acme/notifications?limit=1000")["items"]
    assert [n["at"] for n in notes if n["kind"] == "arrears" and n["channel"] == "email"] == [
        "2026-06-01T02:00:00Z", "2026-07-01T02:00:00Z"]


# ------------------------------------------------------------------ E+1 after the stop
@pytest.mark.parametrize(
    ("billing_tz", "bought", "days"),
    [
        # worked example 1's package, E = 2026-04-01T00:00Z: stop at 00:05 on E+1, before the 01:00 run
        ("UTC", "2026-03-01T00:00:00Z", [f"2026-03-{d}" for d in range(26, 32)] + ["2026-04-01", "2026-04-02"]),
        # worked example 8 (E = 2026-08-20T10:00Z) in New York: E+1 = Aug 21, its 01:00 UTC run is after the stop
        ("America/New_York", "2026-07-20T10:00:00Z", [f"2026-08-{d}" for d in range(14, 22)]),
    ],
)
def test_the_e_plus_1_warning_goes_out_after_the_stop(api, billing_tz, bought, days):
    api.clock(bought)
    api.account("acme", cash="399.00")
    sid = api.app()
    api.buy(sid, "standard", 1)
    api.advance(days=40)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(billing_tz)
    notes = [n for n in api.ok("GET", "/v1/accounts/acme/notifications?limit=1000")["items"]
             if n["kind"] == "expiry_warning"]
    local = sorted(datetime.fromisoformat(n["at"].replace("Z", "+00:00")).astimezone(zone).date().isoformat()
                   for n in notes if n["channel"] == "email")
    assert local == days
    assert sum(1 for n in notes if n["channel"] == "sms") == 8
    last = next(n for n in notes if n["channel"] == "email" and n["body"].find("stopped 24 hours") >= 0)
    assert "buy a package" in last["body"]


# ------------------------------------------------------------------ found in review of the above
def test_an_app_disabled_before_spans_were_recorded_is_still_prorated(api):
    sid = api.paid_app("2026-09-01T00:00:00Z", "1000.00")
    put_month_usage(sid, "2026-09", mau=14_000)
    api.clock("2026-09-16T00:00:00Z")
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})
    AppModel(sid).update(actions=[AppModel.off_log.remove()])  # as the previous release left it
    api.clock("2026-10-01T02:30:00Z", run_jobs=True)
    assert bill_lines(api, "2026-09") == [("mau_overage", 4000, "30.00")]


def test_two_spans_opened_at_one_instant_settle_without_error(api):
    sid = api.paid_app("2026-03-02T00:00:00Z", "2000.00")
    put_month_usage(sid, "2026-03", mau=12_000)
    api.clock("2026-03-10T00:00:00Z")
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})
    api.buy(sid)
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})  # off, on, off at one instant
    api.clock("2026-04-01T02:30:00Z", run_jobs=True)
    # enabled Mar 1-10 of 31 days: 2,000 x 0.015 x 9/31 = 8.709...
    assert bill_lines(api, "2026-03") == [("mau_overage", 2000, "8.71")]


def test_a_bill_posted_while_an_earlier_stop_is_pending_has_its_own_24_hours(api):
    from zoneinfo import ZoneInfo

    from chalicelib.domain.bills import Line
    from chalicelib.domain.calendar import parse_instant
    from chalicelib.services import billing
    from chalicelib.services.context import SYSTEM
    from tests.composed import make_ctx

    def bill_at(at: str, period: str) -> None:
        ctx = make_ctx(now=parse_instant(at), tz=ZoneInfo("UTC"), principal=SYSTEM)
        billing.post_bill(ctx, "acme", "daily", period, [Line(first, "push_api_quota", 1, "10.00", 1000)])

    api.clock("2026-06-01T00:00:00Z")
    api.account("acme")
    first = api.app()
    bill_at("2026-06-01T00:30:00Z", "2026-05-31")  # arrears; its stop is due 2026-06-02T00:30Z
    bill_at("2026-06-01T20:00:00Z", "2026-06-01")  # its own stop is due 2026-06-02T20:00Z
    api.clock("2026-06-02T01:15:00Z", run_jobs=True)
    assert api.ok("GET", f"/v1/apps/{first}")["stop_reason"] == "arrears"
    second = api.app(name="later")  # enabled after the first stop
    api.clock("2026-06-02T20:00:00Z", run_jobs=True)
    assert api.ok("GET", f"/v1/apps/{second}")["status"] == "enabled"
    api.clock("2026-06-02T21:00:00Z", run_jobs=True)
    app = api.ok("GET", f"/v1/apps/{second}")
    assert (app["status"], app["stopped_at"]) == ("stopped", "2026-06-02T20:15:00Z")


def test_a_purchase_that_wins_the_race_with_a_reclamation_keeps_every_usage_item(api):
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.services import lifecycle

    sid = api.paid_app("2026-03-02T00:00:00Z", "2000.00")
    api.ok("POST", "/v1/usage/logins", {"sdkappid": sid, "user_ids": ["u1", "u2"]}, expect=200, role="service")
    api.clock("2026-03-10T00:00:00Z")
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})
    stale = AppModel.get(sid)  # the reclamation read the app ...
    api.buy(sid)  # ... and a purchase committed before its transaction
    with pytest.raises(TransactWriteError):
        lifecycle.reclaim(lifecycle_ctx("2026-03-10T00:00:00Z"), stale)
    usage = api.ok("GET", f"/v1/apps/{sid}/usage?month=2026-03")
    assert (usage["mau"], usage["push"]["broadcast_calls_by_day"]) == (2, {})
    assert [u.period for u in UsageModel.query(sid)] == ["2026-03"]


def test_a_reclamation_that_crashed_after_its_tombstone_is_finished_by_the_next_run(api, monkeypatch):
    from chalicelib.services import lifecycle

    sid = api.paid_app("2026-03-02T00:00:00Z", "2000.00")
    api.ok("POST", "/v1/usage/logins", {"sdkappid": sid, "user_ids": ["u1"]}, expect=200, role="service")
    api.clock("2026-03-10T00:00:00Z")
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})

    def crash(ctx, app):
        raise RuntimeError("the process died after the tombstone")

    with monkeypatch.context() as m:
        m.setattr(lifecycle, "_purge", crash)
        with pytest.raises(RuntimeError):
            lifecycle.reclaim(lifecycle_ctx("2026-03-10T00:00:00Z"), AppModel.get(sid))
    app = AppModel.get(sid)
    assert (app.status, app.purge_pending, app.reclaim_due_at) == ("reclaimed", True, app.reclaimed_at)
    assert api.call("POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1}).status == 410

    api.clock("2026-03-11T03:30:00Z", run_jobs=True)  # the next daily reclamation run
    app = AppModel.get(sid)
    assert (app.purge_pending, app.reclaim_due_at) == (None, None)
    assert [u.period for u in UsageModel.query(sid)] == ["2026-03#unbilled"]  # kept to be billed
    assert api.ok("GET", f"/v1/apps/{sid}/usage?month=2026-03")["push"]["broadcast_calls_by_day"] == {}


def lifecycle_ctx(at: str):
    from zoneinfo import ZoneInfo

    from chalicelib.domain.calendar import parse_instant
    from chalicelib.services.context import SYSTEM
    from tests.composed import make_ctx

    return make_ctx(now=parse_instant(at), tz=ZoneInfo("UTC"), principal=SYSTEM)
