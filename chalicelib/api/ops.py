"""Operator endpoints: job runs, and the test clock (only where IMBILL_TEST_CLOCK=1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas as s
from chalicelib.api.http import Call, route
from chalicelib.clock import StoredClock
from chalicelib.domain.calendar import iso
from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.jobs import runner, scheduler

bp = Blueprint(__name__)


@route(bp, "/v1/jobs/{job}/runs", "POST", summary="Run one job as of an instant (operator)", body=s.JobRun,
       roles=("operator",))
def run_job(call: Call, job: str) -> dict[str, Any]:
    at = s.instant(call.body.at)
    assert at is not None
    return runner.run_job(job, at, call.contexts, now=call.ctx.now)


def _test_clock(call: Call) -> StoredClock:
    c = call.contexts.clock
    if not call.contexts.settings.test_clock or not isinstance(c, StoredClock):
        raise NotFound("the test clock is off (IMBILL_TEST_CLOCK=1 turns it on)")
    return c


def _move(call: Call, target: Any, run_jobs: bool) -> dict[str, Any]:
    """Move the test clock to `target`: first whatever an interrupted move (or the scheduler) left
    between the mark and now, then every instant up to the target, in one order (jobs/scheduler.py)."""
    c = _test_clock(call)
    now = call.ctx.now
    if target < now:
        raise InvalidRequest(f"the clock may only move forward (it is {iso(now)})")
    return scheduler.catch_up(target, call.contexts, c.NAME, since=now,
                             run_jobs=run_jobs).answer(target)


@route(bp, "/v1/test/clock", summary="The test clock", roles=("operator", "customer", "service"))
def get_clock(call: Call) -> dict[str, Any]:
    _test_clock(call)
    return {"now": iso(call.ctx.now)}


@route(bp, "/v1/test/clock", "PUT", summary="Set the test clock forward, running due jobs", body=s.ClockSet,
       roles=("operator",))
def set_clock(call: Call) -> dict[str, Any]:
    _test_clock(call)
    return _move(call, s.instant(call.body.now), call.body.run_jobs)


@route(bp, "/v1/test/clock/advance", "POST", summary="Advance the test clock, running due jobs",
       body=s.ClockAdvance, roles=("operator",))
def advance_clock(call: Call) -> dict[str, Any]:
    _test_clock(call)
    b = call.body
    delta = timedelta(days=b.days, hours=b.hours, minutes=b.minutes)
    return _move(call, call.ctx.now + delta, True)
