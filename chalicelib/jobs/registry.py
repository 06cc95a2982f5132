"""The scheduled jobs: name, UTC cron (as in the contract) and the function that runs one as of `at`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.jobs.steps import Summary, counting_failures


@dataclass(frozen=True)
class Schedule:
    """A UTC cron of the forms the contract uses: minute, optional hour, optional days of month."""

    minute: int
    hour: int | None = None  # None: every hour
    days: tuple[int, ...] | None = None  # None: every day

    @property
    def aws_cron(self) -> str:
        hour = "*" if self.hour is None else str(self.hour)
        days = "*" if self.days is None else f"{min(self.days)}-{max(self.days)}"
        return f"cron({self.minute} {hour} {days} * ? *)"

    def matches(self, t: datetime) -> bool:
        return (
            t.minute == self.minute
            and t.second == 0
            and (self.hour is None or t.hour == self.hour)
            and (self.days is None or t.day in self.days)
        )

    def instants(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Scheduled instants in (after, until], in order."""
        t = after.replace(minute=self.minute, second=0, microsecond=0)
        if t <= after:
            t += timedelta(hours=1)
        while t <= until:
            if self.matches(t):
                yield t
            t += timedelta(hours=1)


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule
    run: Callable[[Any, datetime], Summary]  # (ctx, at) -> counts
    # earliest instant at which the job may have work (None: unknown, always run); lets the test
    # clock skip runs with nothing due without touching the store
    next_due: Callable[[Any], datetime | None] | None = None
    outcomes: tuple[str, ...] = ()  # counts always present in a summary, zero when nothing happened
    listed_when_idle: bool = True  # False: the test clock lists its runs only when they did something
    # the other jobs whose next due time a run that did work may bring forward (None: any job)
    affects: tuple[str, ...] | None = None

    def execute(self, ctx: Any, at: datetime) -> tuple[Summary, int]:
        """Run as of `at`: the summary, and how many items failed (they stay due for the next run)."""
        with counting_failures() as failures:
            counts = self.run(ctx, at)
        return self.summary(counts), len(failures)

    def summary(self, counts: Summary | None = None) -> Summary:
        out = {k: 0 for k in self.outcomes}
        out.update(counts or {})
        return out


JOBS: dict[str, Job] = {}


def register(job: Job) -> Job:
    JOBS[job.name] = job
    return job
