"""Auto-renew, grace, stop and come-back rules of section 7 on the test clock."""

from __future__ import annotations

import time

import pytest

from tests.scenarios.test_expiry_lifecycle import notes


@pytest.fixture(params=["UTC", "Asia/Shanghai"])
def billing_tz(request):
    return request.param


def test_auto_renew_with_enough_balance_renews_from_old_expiry(api):
    api.clock("2026-07-20T10:00:00Z")
    api.account("acme", cash="798.00")
    sid = api.app()
    api.buy(sid, "standard", 1, auto_renew=True)
    api.clock("2026-08-20T09:00:00Z", run_jobs=True)
    warned_before = len(notes(api, kind="expiry_warning"))
    assert warned_before == 0  # mode auto and the balance covers the renewal: no warning (issue 18)
    result = api.clock("2026-08-20T11:00:00Z", run_jobs=True)
    assert [r["at"] for r in result["jobs_run"] if r["summary"].get("renewed")] == ["2026-08-20T10:05:00Z"]
    orders = api.ok("GET", f"/v1/apps/{sid}/orders")["items"]
    renewal = orders[-1]
    assert renewal["kind"] == "auto_renewal"
    assert renewal["starts_at"] == "2026-08-20T10:00:00Z" and renewal["ends_at"] == "2026-09-20T10:00:00Z"
    assert api.balance()["total"] == "0.00"
    api.clock("2026-08-25T00:00:00Z", run_jobs=True)
    assert len(notes(api, kind="expiry_warning")) == warned_before  # renewal ended the warnings
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "enabled"


def test_auto_renew_without_balance_buys_nothing_and_stops(api):
    api.clock("2026-07-20T10:00:00Z")
    api.account("acme", cash="500.00")
    sid = api.app()
    api.buy(sid, "standard", 1, auto_renew=True)
    api.clock("2026-08-22T00:00:00Z", run_jobs=True)
    assert len(api.ok("GET", f"/v1/apps/{sid}/orders")["items"]) == 1
    app = api.ok("GET", f"/v1/apps/{sid}")
    assert app["status"] == "stopped" and app["stopped_at"] == "2026-08-21T10:05:00Z"
    assert api.balance()["total"] == "101.00"


def test_renewal_within_grace_keeps_continuity(api):
    sid = api.paid_app("2026-07-20T10:00:00Z", "798.00")
    api.clock("2026-08-21T09:00:00Z", run_jobs=True)  # expired 23 h ago, not yet stopped
    order = api.buy(sid, "standard", 1)["order"]
    assert order["kind"] == "renewal"
    assert order["starts_at"] == "2026-08-20T10:00:00Z" and order["ends_at"] == "2026-09-20T10:00:00Z"
    api.clock("2026-08-23T00:00:00Z", run_jobs=True)
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "enabled"


def test_stopped_standard_app_comes_back_only_by_purchase(api):
    sid = api.paid_app("2026-07-20T10:00:00Z", "798.00")
    api.clock("2026-08-25T00:00:00Z", run_jobs=True)
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "stopped"
    r = api.call("POST", f"/v1/apps/{sid}/trial-extensions")
    assert r.status == 409
    order = api.buy(sid, "standard", 1)["order"]
    assert order["kind"] == "reactivation" and order["starts_at"] == "2026-08-25T00:00:00Z"
    app = api.ok("GET", f"/v1/apps/{sid}")
    assert app["status"] == "enabled" and app["stop_reason"] is None and app["stopped_at"] is None


def test_developer_app_warns_stops_and_comes_back_by_extension(api):
    api.clock("2026-07-20T10:00:00Z")
    api.account("acme")
    sid = api.app()
    r = api.call("POST", f"/v1/apps/{sid}/trial-extensions")
    assert r.status == 409  # before expiry
    api.clock("2026-08-23T00:00:00Z", run_jobs=True)
    assert len(notes(api, kind="expiry_warning")) == 16
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "stopped"
    app = api.ok("POST", f"/v1/apps/{sid}/trial-extensions", expect=200)
    assert app["status"] == "enabled" and app["expires_at"] == "2026-09-23T00:00:00Z"


def test_delete_reclaims_at_once_and_frees_the_slot(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="399.00")
    sid = api.app()
    r = api.call("DELETE", f"/v1/apps/{sid}")
    assert r.status == 409  # enabled
    api.buy(sid, "standard", 1)
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})
    assert api.ok("GET", "/v1/accounts/acme")["apps_count"] == 1
    app = api.ok("DELETE", f"/v1/apps/{sid}", expect=200)
    assert app["status"] == "reclaimed"
    assert api.ok("GET", "/v1/accounts/acme")["apps_count"] == 0
    assert api.call("DELETE", f"/v1/apps/{sid}").status == 410
    assert api.call("PUT", f"/v1/apps/{sid}/auto-renew", {"enabled": True}).status == 410
    assert len(api.ok("GET", "/v1/accounts/acme/ledger")["items"]) == 3


def test_disabled_app_is_reclaimed_90_days_after_refund(api):
    sid = api.paid_app("2026-03-01T00:00:00Z", "399.00")
    api.clock("2026-03-11T00:00:00Z")
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})
    api.clock("2026-06-09T02:00:00Z", run_jobs=True)  # 90 days = 2026-06-09T00:00Z; run at 03:00
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "disabled"
    api.clock("2026-06-09T03:00:00Z", run_jobs=True)
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "reclaimed"


@pytest.mark.timed  # a wall-clock bound: not run beside another test (make test)
def test_advancing_120_days_is_fast(api):
    api.clock("2026-01-01T00:00:00Z")
    api.account("acme", cash="5000.00")
    sids = [api.app(name=f"a{i}") for i in range(5)]
    api.buy(sids[0], "standard", 1, auto_renew=True)
    api.buy(sids[1], "pro", 2)
    started = time.perf_counter()
    result = api.advance(days=120)
    elapsed = time.perf_counter() - started
    # hourly enforcement, arrears, dispatch and renewal-batches runs, 3 daily jobs, settlement on Jan,
    # Feb, Mar and Apr 1-3: listed when they acted, counted in idle_runs when not
    assert len(result["jobs_run"]) + result["idle_runs"] == 120 * 24 * 4 + 120 * 3 + 4 * 3
    assert elapsed < 30, elapsed
    print(f"120-day advance: {elapsed:.2f}s, {len(result['jobs_run'])} runs")
