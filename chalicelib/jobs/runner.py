"""Running jobs: one as of an instant, or every scheduled instant between two (the test clock)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.calendar import iso
from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.jobs import registry
from chalicelib.services.context import SYSTEM, Ctx
from chalicelib.views import job_runs

IDLE = ("skipped", "no_charge")  # outcomes that change nothing


def load_jobs() -> dict[str, registry.Job]:
    """Import every job module (each registers itself) and answer the registry."""
    from chalicelib.jobs import all_jobs  # noqa: F401  (registers the jobs)

    return registry.JOBS


def run_job(name: str, at: datetime, tz: ZoneInfo, now: datetime | None = None) -> dict[str, Any]:
    """Run one job as of `at`; given the service clock's `now`, `at` may not be later (400)."""
    jobs = load_jobs()
    if name not in jobs:
        raise NotFound(f"no job named {name!r}; jobs: {', '.join(jobs)}")
    if now is not None and at > now:
        raise InvalidRequest(f"at {iso(at)} is later than the service clock ({iso(now)}): "
                             "a job may not run ahead of the clock")
    started = job_runs.wall_now()
    summary, failed = jobs[name].execute(Ctx(now=at, tz=tz, principal=SYSTEM), at)
    result = {"job": name, "at": iso(at), "summary": summary, "failed": failed}
    job_runs.record(result, at, started)
    return result


def due_runs(start: datetime, end: datetime) -> list[tuple[datetime, int, registry.Job]]:
    """Every (instant, job) scheduled in (start, end], in time order (ties in registry order)."""
    jobs = list(load_jobs().values())
    runs = [(t, i, job) for i, job in enumerate(jobs) for t in job.schedule.instants(start, end)]
    runs.sort(key=lambda r: (r[0], r[1]))
    return runs


def run_between(
    start: datetime, end: datetime, tz: ZoneInfo, set_clock: Any, *, targeted: bool = True
) -> list[dict[str, Any]]:
    """Run each job at each of its instants in (start, end], the clock set to that instant.

    A job that says when it next has work (`next_due`) is skipped, with an empty summary and no
    store access, at instants before that. After a run that did work the hints are asked again:
    those of the jobs it declares it `affects` (all of them unless `targeted`, which a test compares
    with); after any run of a hinted job all are (a step that found nothing may have rewritten
    stale due times)."""
    out: list[dict[str, Any]] = []
    hints: dict[str, datetime | None] = {}
    hinted = [j for j in load_jobs().values() if j.next_due is not None]
    stale: set[str] = {j.name for j in hinted}
    for t, _, job in due_runs(start, end):
        ctx = Ctx(now=t, tz=tz, principal=SYSTEM)
        for j in hinted:
            if j.name in stale:
                hints[j.name] = j.next_due(ctx)  # type: ignore[misc]
        stale = set()
        if job.name in hints and (hints[job.name] is None or hints[job.name] > t):  # type: ignore[operator]
            if job.listed_when_idle:
                out.append({"job": job.name, "at": iso(t), "summary": job.summary()})
            continue
        set_clock(t)
        summary, failed = job.execute(ctx, t)
        worked = any(v for k, v in summary.items() if k not in IDLE)
        if worked or job.listed_when_idle or failed:
            out.append({"job": job.name, "at": iso(t), "summary": summary, **({"failed": failed} if failed else {})})
        if worked and job.affects is not None and targeted:
            stale = {job.name, *job.affects}
        elif worked or job.name in hints:
            stale = {j.name for j in hinted}
    set_clock(end)
    return out
