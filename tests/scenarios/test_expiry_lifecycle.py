"""Worked example 8 day by day on the test clock, and the rest of section 7's lifecycle."""

from __future__ import annotations

import pytest


def notes(api, account="acme", kind=None):
    items = api.ok("GET", f"/v1/accounts/{account}/notifications?limit=1000")["items"]
    return [n for n in items if kind is None or n["kind"] == kind]


def runs_with(result, job, key):
    return [r for r in result["jobs_run"] if r["job"] == job and r["summary"].get(key)]


@pytest.fixture(params=["UTC", "Asia/Shanghai"])
def billing_tz(request):
    return request.param


def test_worked_example_8_warnings_stop_reclaim(api, billing_tz):
    sid = api.paid_app("2026-07-20T10:00:00Z", "399.00")
    assert api.ok("GET", f"/v1/apps/{sid}")["expires_at"] == "2026-08-20T10:00:00Z"
    login = {"sdkappid": sid, "user_ids": ["alice", "bob"], "at": "2026-07-20T10:00:00Z"}
    assert api.ok("POST", "/v1/usage/logins", login, expect=200, role="service")["mau"] == 2
    api.clock("2026-08-12T12:00:00Z", run_jobs=True)
    assert notes(api, kind="expiry_warning") == []
    warned_days = []
    for day in range(13, 24):
        result = api.clock(f"2026-08-{day}T12:00:00Z", run_jobs=True)
        count = sum(r["summary"].get("warned", 0) for r in result["jobs_run"])
        if count:
            warned_days.append(day)
    # the 01:00 UTC run of day d is in local day d for UTC and Shanghai alike (09:00 there)
    assert warned_days == [14, 15, 16, 17, 18, 19, 20, 21]
    warnings = notes(api, kind="expiry_warning")
    assert len(warnings) == 16
    assert sorted({n["channel"] for n in warnings}) == ["email", "sms"]
    stops = notes(api, kind="stopped")
    assert len(stops) == 2
    app = api.ok("GET", f"/v1/apps/{sid}")
    assert app["status"] == "stopped" and app["stop_reason"] == "expired"
    assert app["stopped_at"] == "2026-08-21T10:05:00Z"
    # reclamation at the first daily run at or after stop + 90 days (2026-11-19T10:05Z)
    api.clock("2026-11-20T02:00:00Z", run_jobs=True)
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "stopped"
    result = api.clock("2026-11-20T04:00:00Z", run_jobs=True)
    assert runs_with(result, "reclamation", "reclaimed")[0]["at"] == "2026-11-20T03:00:00Z"
    app = api.ok("GET", f"/v1/apps/{sid}")
    assert app["status"] == "reclaimed"
    # financial records stay; the app's notifications are gone but the reclaimed notice
    assert len(api.ok("GET", f"/v1/apps/{sid}/orders")["items"]) == 1
    assert [n["kind"] for n in notes(api)] == ["reclaimed", "reclaimed"]
    assert api.ok("GET", f"/v1/apps/{sid}/usage?month=2026-07")["mau"] == 0  # usage deleted
    assert len(api.ok("GET", "/v1/accounts/acme/ledger")["items"]) == 2  # top-up, purchase: kept
    r = api.call("POST", "/v1/usage/logins", {**login, "at": "2026-11-20T04:00:00Z"}, role="service")
    assert r.status == 410
    # any later write answers 410
    r = api.call("POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1})
    assert r.status == 410 and r.code == "gone"
    assert api.ok("GET", "/v1/accounts/acme")["apps_count"] == 0
