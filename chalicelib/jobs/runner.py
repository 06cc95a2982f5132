"""Running jobs: one as of an instant, or every scheduled instant between two (the test clock)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib import logs
from chalicelib.domain.calendar import iso
from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.jobs import registry
from chalicelib.readmodels import job_runs
from chalicelib.services.context import Contexts
from chalicelib.store.dynamodb import watch

log = logging.getLogger("imbill.jobs")
TICK = timedelta(microseconds=1)
PROGRESS_EVERY = 5.0  # seconds between progress lines of a long move


def load_jobs() -> dict[str, registry.Job]:
    """Every job, by name (each declared by its own module of the jobs package)."""
    return registry.declared()


def run_job(name: str, at: datetime, contexts: Contexts, now: datetime | None = None,
            on_request: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one job as of `at` (its context made by the composition's `contexts`); given the service
    clock's `now`, `at` may not be later (400). A long run logs its progress (its DynamoDB requests so
    far) every few seconds; `on_request(operation)` sees each request (the CLI's progress bar)."""
    jobs = load_jobs()
    if name not in jobs:
        raise NotFound(f"no job named {name!r}; jobs: {', '.join(jobs)}")
    if now is not None and at > now:
        raise InvalidRequest(f"at {iso(at)} is later than the service clock ({iso(now)}): "
                             "a job may not run ahead of the clock")
    seen = [0, time.monotonic(), time.monotonic()]  # requests, start, last progress line

    def progress(operation: str) -> None:
        seen[0] += 1
        if on_request is not None:
            on_request(operation)
        if time.monotonic() - seen[2] >= PROGRESS_EVERY:
            seen[2] = time.monotonic()
            log.info("job %s at %s: %d requests, %.0f s", name, iso(at), seen[0], seen[2] - seen[1])

    job = jobs[name]
    started = job_runs.wall_now()
    with watch.requests_seen(progress):
        summary, failed = logs.job_run(name, at, lambda: job.execute(contexts.job(name, at), at))
    result = {"job": name, "at": iso(at), "summary": summary, "failed": failed}
    job_runs.record(result, at, started)
    return result


@dataclass
class Moved:
    """What a move over (start, end] did: the runs that acted, in order, and how many did not."""

    jobs_run: list[dict[str, Any]] = field(default_factory=list)
    idle_runs: int = 0

    def answer(self, now: datetime) -> dict[str, Any]:
        return {"now": iso(now), "jobs_run": self.jobs_run, "idle_runs": self.idle_runs}


def scheduled(start: datetime, end: datetime) -> int:
    """How many (instant, job) runs the schedules hold in (start, end]."""
    return sum(job.schedule.count(start, end) for job in load_jobs().values())


def run_between(
    start: datetime, end: datetime, contexts: Contexts, *,
    on_acted: Callable[[datetime], None] = lambda _t: None,
    on_progress: Callable[[datetime], None] = lambda _t: None,
    skip: bool = True,
    remember: bool = True,
) -> Moved:
    """Run each job at each of its instants in (start, end], in time order (ties in registry
    order), each as of its instant, the way the deployed schedules would have.

    A job that says when it next has work (`next_due`) goes straight to its first instant at or
    after that: the instants in between are counted, never visited, and cost no request. The
    hints are asked again after each run; inside the move's `watch` an unchanged index answers
    from memory, so only writes cost a read. `on_acted(t)` follows every run that acted (the
    scheduler notes it for its mark); `on_progress(t)` (the scheduler saves its mark) and a log
    line come every few seconds.
    `skip=False` runs every instant, `remember=False` asks the store every hint again (tests compare)."""
    jobs = list(load_jobs().values())
    moved = Moved()
    executed = 0
    started = last_note = time.monotonic()
    with watch.watching(watch.store_clients()) as w:
        hints: dict[int, datetime | None] = {}

        def ask(now: datetime) -> None:
            if not remember:
                w.forget()
            ctx = contexts.at(now)
            for i, job in enumerate(jobs):
                if skip and job.next_due is not None:
                    hints[i] = job.next_due(ctx)

        def candidate(i: int, at: datetime, at_index: int) -> datetime | None:
            """Job i's first instant after the run (at, at_index) and not before its hint."""
            after = at if i <= at_index else at - TICK
            if i in hints:
                hint = hints[i]
                if hint is None:
                    return None
                after = max(after, hint - TICK)
            t = jobs[i].schedule.first_after(after)
            return t if t <= end else None

        ask(start)
        at, at_index = start, len(jobs)
        while True:
            nexts = [(t, i) for i in range(len(jobs)) if (t := candidate(i, at, at_index)) is not None]
            if not nexts:
                break
            at, at_index = min(nexts)
            job = jobs[at_index]
            summary, failed = job.execute(contexts.job(job.name, at), at)
            executed += 1
            if job.acted(summary) or failed:  # a run with failed items is listed: they stay due
                moved.jobs_run.append({"job": job.name, "at": iso(at), "summary": summary,
                                       **({"failed": failed} if failed else {})})
                on_acted(at)
            ask(at)
            own = hints.get(at_index)
            if own is not None and own <= at:
                # the job's own index still says due (an item left for the next run, or a due time
                # remembered from a write that did not make an item due): ask the store itself
                w.forget()
                ask(at)
            if time.monotonic() - last_note >= PROGRESS_EVERY:
                last_note = time.monotonic()
                log.info("clock move at %s (to %s): %d runs, %d acted, %.0f s", iso(at), iso(end), executed,
                         len(moved.jobs_run), last_note - started)
                on_progress(at)
    moved.idle_runs = scheduled(start, end) - len(moved.jobs_run)
    return moved


def heartbeats(start: datetime, end: datetime, jobs_run: list[dict[str, Any]]) -> list[job_runs.Beat]:
    """Each job's heartbeat of a move over (start, end]: every scheduled instant counts as run
    (those skipped had nothing due), with the items its runs acted on; none for a job without an
    instant in the stretch. Computed from the schedules, without a request."""
    jobs = load_jobs()
    acted: dict[str, int] = {}
    for r in jobs_run:
        acted[r["job"]] = acted.get(r["job"], 0) + jobs[r["job"]].acted_on(r["summary"])
    beats = []
    for name, job in jobs.items():
        runs = job.schedule.count(start, end)
        if runs:
            beats.append(job_runs.Beat(name, job.schedule.first_after(start), job.schedule.last_until(end), runs,
                                       acted.get(name, 0)))
    return beats
