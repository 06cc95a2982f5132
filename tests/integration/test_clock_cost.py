"""Issue 11 item 4: the test clock in seconds. A year of a small data set in at most 3,000 DynamoDB
requests; an idle stretch costs none; a 20-year jump in flat memory; the answer lists only the runs
that acted and counts the others."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.jobs import runner
from tests.composed import contexts
from tests.integration.requests import count_requests
from tests.scenarios.year_data import END, seed_year

YEAR_REQUEST_BOUND = 3_000


@pytest.mark.heavy
@pytest.mark.ddblocal  # the year's request cost is DynamoDB's; moto would take minutes to replay it
def test_a_year_of_a_small_data_set_in_at_most_3000_requests(api):
    seed_year(api)
    with count_requests() as counter:
        moved = api.ok("PUT", "/v1/test/clock", {"now": END})
    assert counter.total <= YEAR_REQUEST_BOUND, dict(counter.calls)
    assert moved["now"] == "2027-01-01T09:00:00Z"
    jobs = {r["job"] for r in moved["jobs_run"]}
    assert jobs >= {"push-quota-billing", "expiry-warnings", "expiry-enforcement", "reclamation",
                    "monthly-settlement"}
    assert all(runner.load_jobs()[r["job"]].acted(r["summary"]) for r in moved["jobs_run"])
    # every scheduled instant, counted (8,760 of them the hourly renewal-batches job's)
    assert len(moved["jobs_run"]) + moved["idle_runs"] == 27_411 + 8_760
    assert sum(r["job"] == "push-quota-billing" for r in moved["jobs_run"]) == 365  # one bill a day


def test_an_idle_stretch_costs_no_request(api):
    """A move's cost does not grow with the idle instants it passes: one day or twenty, the same
    fixed requests (the lease, the hints asked once, the mark)."""
    api.clock("2026-02-05T00:00:00Z")
    api.account("acme", cash="10000.00")
    api.buy(api.app(), "pro", 12)  # nothing due until the warnings next January
    with count_requests() as one_day:
        short = api.advance(days=1)
    with count_requests() as twenty_days:
        long = api.advance(days=20)
    assert short["jobs_run"] == long["jobs_run"] == []
    assert (short["idle_runs"], long["idle_runs"]) == (4 * 24 + 3, 20 * (4 * 24 + 3))  # four hourly jobs, three daily
    assert twenty_days.calls == one_day.calls, (dict(one_day.calls), dict(twenty_days.calls))
    assert one_day.total <= 40, dict(one_day.calls)


def test_a_move_saves_its_mark_and_records_its_runs_in_a_few_requests(api, monkeypatch):
    """Ten daily push bills: one transaction each (the bill), one for the mark at the end (not one
    per run that acted), and the ten job runs recorded in one batch (not a PutItem each)."""
    from chalicelib.jobs import scheduler

    monkeypatch.setattr(runner, "PROGRESS_EVERY", 3600.0)  # no progress save mid-move, however slow
    sid = api.paid_app("2026-02-05T09:00:00Z", cash="900.00", plugins=("push",))
    api.ok("PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 101})
    with count_requests() as counter:
        moved = api.advance(days=10)
    assert [r["job"] for r in moved["jobs_run"]] == ["push-quota-billing"] * 10
    assert counter.calls["TransactWriteItems"] == 10 + 1, dict(counter.calls)
    # the bills' notices: marked sent one batch per run (SES/SNS), or written sent in the bill's
    # transaction by a records-only notifier (the DynamoDB Local pass); the ten runs: one batch
    from chalicelib import bootstrap
    from chalicelib.services.notifications import records_only

    marks = 0 if records_only(bootstrap.current().ctx()) else 10
    assert counter.calls["PutItem"] == 0 and counter.calls["BatchWriteItem"] == marks + 1, dict(counter.calls)
    assert scheduler.get_mark() == datetime(2026, 2, 15, 9, tzinfo=UTC)
    assert len(api.ok("GET", "/v1/ops/job-runs?job=push-quota-billing&limit=50")["items"]) == 10


@pytest.mark.heavy
def test_a_20_year_jump_in_flat_memory(store):
    start = datetime(2030, 1, 1, tzinfo=UTC)
    tracemalloc.start()
    try:
        moved = runner.run_between(start, start + timedelta(days=365 * 20 + 5), contexts(ZoneInfo("UTC")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert moved.jobs_run == []
    assert moved.idle_runs > 20 * 365 * (3 * 24 + 3)
    assert peak < 30 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_monthly_settlement_says_when_it_is_next_due_without_a_request(store):
    """Its next run inside the local window of days 1-3; west of UTC the 02:00 UTC run of the 1st
    is still the last local day of the month (it would do nothing) and is skipped."""
    from chalicelib.jobs import monthly_settlement
    from chalicelib.services.context import SYSTEM
    from tests.composed import make_ctx

    def due(now: datetime, tz: str) -> datetime | None:
        return monthly_settlement.next_due(make_ctx(now=now, tz=ZoneInfo(tz), principal=SYSTEM))

    with count_requests() as counter:
        assert due(datetime(2026, 5, 20, tzinfo=UTC), "UTC") == datetime(2026, 6, 1, 2, tzinfo=UTC)
        assert due(datetime(2026, 6, 1, 2, tzinfo=UTC), "UTC") == datetime(2026, 6, 2, 2, tzinfo=UTC)
        assert due(datetime(2026, 6, 3, 2, tzinfo=UTC), "UTC") == datetime(2026, 7, 1, 2, tzinfo=UTC)
        assert due(datetime(2026, 5, 20, tzinfo=UTC), "America/New_York") == datetime(2026, 6, 2, 2, tzinfo=UTC)
        assert due(datetime(2026, 5, 20, tzinfo=UTC), "Asia/Tokyo") == datetime(2026, 6, 1, 2, tzinfo=UTC)
    assert counter.total == 0
    assert runner.load_jobs()["monthly-settlement"].next_due is monthly_settlement.next_due


def test_monthly_settlement_hint_skips_no_bill(store):
    """West of UTC the hint skips the 1st and runs the 2nd and 3rd: the same bills as running every
    scheduled instant."""
    from chalicelib.store.dynamodb.usage_models import BillModel
    from tests.integration.test_settlement import seed

    seed(3, month="2026-05")
    tz = ZoneInfo("America/New_York")
    start, end = datetime(2026, 5, 31, tzinfo=UTC), datetime(2026, 6, 5, tzinfo=UTC)
    moved = runner.run_between(start, end, contexts(tz))
    assert [(r["job"], r["at"], r["summary"]["billed"]) for r in moved.jobs_run] == [
        ("monthly-settlement", "2026-06-02T02:00:00Z", 3)]
    assert sorted(b.account_id for b in BillModel.scan()) == ["acct00000", "acct00001", "acct00002"]
