"""Issue 7 item 3: a clock move killed half-way is finished first, in time order, by whatever runs
next (the next move or the scheduler); two processes never run scheduled instants at once."""

from __future__ import annotations

import dataclasses
import importlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.clock import StoredClock
from chalicelib.jobs import runner, scheduler
from chalicelib.store.dynamodb.models import LedgerModel, MetaModel
from chalicelib.store.dynamodb.usage_models import BillModel
from tests.composed import contexts


class Killed(Exception):
    """The process dying at this point of the move."""


@pytest.fixture
def kill_at(monkeypatch):
    """kill_at(job, at): that run raises (once) before doing anything, as a kill there would."""

    def arm(name: str, at: str) -> None:
        job = runner.load_jobs()[name]
        fired = []

        def run(ctx, when):
            if when == datetime.fromisoformat(at) and not fired:
                fired.append(when)
                raise Killed(f"killed at {name} {at}")
            return job.run(ctx, when)

        module = importlib.import_module(f"chalicelib.jobs.{name.replace('-', '_')}")  # where the job is declared
        monkeypatch.setattr(module, "JOB", dataclasses.replace(job, run=run))

    return arm


def seed(api) -> int:
    api.clock("2026-01-20T09:00:00Z")
    api.account("acme", cash="5000.00")
    sid = api.app(name="chat")
    api.buy(sid, "pro", 3)
    api.plugin(sid, "push", months=3)
    api.ok("PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 101})  # 10.00 a day
    api.ok("POST", "/v1/usage/push", {"sdkappid": sid, "broadcast_calls": 1, "messages": 30_010_000},
           expect=200, role="service")  # January's monthly bill: 0.10
    return sid


def bills_in_ledger_order() -> list[str]:
    entries = list(LedgerModel.query("acme"))
    assert [e.at for e in entries] == sorted(e.at for e in entries), "ledger entries out of time order"
    return [e.ref for e in entries if e.kind == "bill"]


def expected_bills(last_daily: int) -> list[str]:
    daily = [f"daily:2026-01-{d:02d}" for d in range(20, 32)] + [f"daily:2026-02-{d:02d}" for d in range(1, 32)]
    upto = daily[: daily.index(f"daily:2026-02-{last_daily:02d}") + 1]
    # the monthly bill (02:00 on the 1st) comes after January 31's daily bill (00:30 on the 1st)
    return [*upto[: upto.index("daily:2026-01-31") + 1], "monthly:2026-01", *upto[upto.index("daily:2026-01-31") + 1:]]


def killed_move(api, kill_at, job: str, at: str) -> None:
    """Seed, then a move to February 5 killed at the run of `job` at `at`."""
    seed(api)
    kill_at(job, at)
    with pytest.raises(Killed):  # as the endpoint calls it
        scheduler.catch_up(datetime(2026, 2, 5, 9, tzinfo=UTC), contexts(ZoneInfo("UTC")), StoredClock.NAME,
                           since=StoredClock().now())


def test_a_move_killed_at_the_monthly_bill_is_finished_first_by_the_next_move(api, kill_at):
    killed_move(api, kill_at, "monthly-settlement", "2026-02-01T02:00:00+00:00")
    # the mark (and the clock) stayed after the last run that acted: January 31's daily bill
    assert scheduler.get_mark() == datetime(2026, 2, 1, 0, 30, tzinfo=UTC)
    assert StoredClock().now() == datetime(2026, 2, 1, 0, 30, tzinfo=UTC)
    assert bills_in_ledger_order()[-1] == "daily:2026-01-31"

    # the restarted scheduler beats first: nothing between the mark and the clock, nothing runs
    assert scheduler.tick(StoredClock().now(), contexts(ZoneInfo("UTC"))) == 0
    moved = api.advance(days=2)  # to Feb 3 00:30: the interrupted instant first, then the rest
    assert moved["now"] == "2026-02-03T00:30:00Z"
    assert [r["job"] for r in moved["jobs_run"]][:1] == ["monthly-settlement"]
    assert bills_in_ledger_order() == expected_bills(last_daily=2)
    assert len(list(BillModel.query("acme"))) == len(expected_bills(last_daily=2))  # none twice


def test_the_scheduler_finishes_an_interrupted_move_before_the_next_one(api, kill_at):
    killed_move(api, kill_at, "push-quota-billing", "2026-02-02T00:30:00+00:00")
    assert scheduler.get_mark() == datetime(2026, 2, 1, 2, 0, tzinfo=UTC)  # the monthly bill was the last
    # a scheduler running on a real clock (past the mark) takes over: it finishes in order
    assert scheduler.tick(datetime(2026, 2, 2, 1, 0, tzinfo=UTC), contexts(ZoneInfo("UTC"))) == 1
    assert bills_in_ledger_order() == expected_bills(last_daily=1)
    api.advance(days=2)  # from the clock (Feb 1 02:00): the instants after the mark only
    assert bills_in_ledger_order() == expected_bills(last_daily=2)
    assert len(list(BillModel.query("acme"))) == len(expected_bills(last_daily=2))


def test_a_second_process_waits_for_the_lease(api, monkeypatch):
    seed(api)
    holder = scheduler._Lease(StoredClock.NAME)
    holder.take()  # another process is moving the clock
    r = api.call("POST", "/v1/test/clock/advance", {"days": 1})
    assert (r.status, r.code) == (503, "busy")
    assert scheduler.get_mark() is None or scheduler.get_mark() < datetime(2026, 1, 21, tzinfo=UTC)
    assert bills_in_ledger_order() == []
    with pytest.raises(scheduler.Busy):
        scheduler.catch_up(datetime(2026, 1, 22, tzinfo=UTC), contexts(ZoneInfo("UTC")))
    # the holder was killed: its lease lapses, and the next move takes over
    now = scheduler.wall()
    monkeypatch.setattr(scheduler, "wall", lambda: now + scheduler.LEASE_SECONDS + 1)
    api.advance(days=1)
    assert bills_in_ledger_order() == ["daily:2026-01-20"]
    assert MetaModel.get(scheduler.MARK).lease_owner is None  # released
    with pytest.raises(scheduler.Busy):
        holder.advance(datetime(2026, 1, 22, tzinfo=UTC))  # the old holder cannot move the mark any more


def test_a_dead_holders_lease_is_taken_over_at_once(api, monkeypatch):
    """A move killed mid-way (its process gone) does not make every move 503 for a minute: its lease
    names this host and its process id, and the next move takes it over as soon as that id is gone."""
    import os
    import subprocess
    import sys

    seed(api)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead = scheduler._Lease(StoredClock.NAME)
    dead.owner = dead.owner.replace(f"/{os.getpid()}:", f"/{gone.stdout.strip()}:")
    dead.take()  # killed mid-move: the lease is held for another LEASE_SECONDS
    alive = scheduler._Lease(StoredClock.NAME)
    alive.owner = alive.owner.replace(f"/{os.getpid()}:", "/1:")  # pid 1 exists: alive, not ours
    api.advance(days=1)  # at once, no 503 (the wall clock did not move)
    assert bills_in_ledger_order() == ["daily:2026-01-20"]
    assert MetaModel.get(scheduler.MARK).lease_owner is None
    alive.take()  # a live holder keeps its lease
    assert api.call("POST", "/v1/test/clock/advance", {"days": 1}).status == 503
    elsewhere = f"another-host/{gone.stdout.strip()}:x"  # a dead-looking id on another host: not ours to judge
    assert not scheduler._holder_is_dead(elsewhere) and scheduler._holder_is_dead(dead.owner)
