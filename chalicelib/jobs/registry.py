"""The scheduled jobs: name, UTC cron (as in the contract) and the function that runs one as of `at`."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import logs
from chalicelib.domain.calendar import iso
from chalicelib.jobs import steps
from chalicelib.jobs.steps import Summary, counting_failures
from chalicelib.store.port import DueIndex, DuePage

DueItem = dict[str, Any]  # one line of the due-work list
LATE_AFTER = timedelta(minutes=15)  # a scheduled instant not run this long after it: the job is late


def _day_runs(days: tuple[int, ...]) -> str:
    """Days of the month as a cron field: each run of consecutive days `a-b`, a lone day `a`."""
    runs: list[list[int]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


@dataclass(frozen=True)
class Schedule:
    """A UTC cron of the forms the contract uses: minute, optional hour, optional days of month."""

    minute: int
    hour: int | None = None  # None: every hour
    days: tuple[int, ...] | None = None  # None: every day

    @property
    def aws_cron(self) -> str:
        """The EventBridge cron: days as runs of consecutive days, `1-3`, `1,15` or `1-3,15`."""
        hour = "*" if self.hour is None else str(self.hour)
        days = "*" if self.days is None else _day_runs(self.days)
        return f"cron({self.minute} {hour} {days} * ? *)"

    def matches(self, t: datetime) -> bool:
        return (
            t.minute == self.minute
            and t.second == 0
            and (self.hour is None or t.hour == self.hour)
            and (self.days is None or t.day in self.days)
        )

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1 if self.hour is None else 24)

    def first_after(self, after: datetime) -> datetime:
        """The first scheduled instant after `after`."""
        t = after.replace(minute=self.minute, second=0, microsecond=0)
        if t <= after:
            t += timedelta(hours=1)
        while not self.matches(t):
            t += timedelta(hours=1) if self.hour is not None and t.hour != self.hour else self.step
        return t

    def last_until(self, until: datetime) -> datetime:
        """The last scheduled instant at or before `until`."""
        t = until.replace(minute=self.minute, second=0, microsecond=0)
        if t > until:
            t -= timedelta(hours=1)
        while not self.matches(t):
            t -= timedelta(hours=1)
        return t

    def health(self, last_run: datetime | None, now: datetime) -> tuple[str, datetime | None]:
        """(`ok` | `late` | `never`, the next instant due after the last run): late when that
        instant passed more than LATE_AFTER ago without a run (a silent scheduler, not an idle one)."""
        if last_run is None:
            return "never", None
        due = self.first_after(last_run)
        return ("late" if due + LATE_AFTER <= now else "ok"), due

    def instants(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Scheduled instants in (after, until], in order (lazily: any stretch in flat memory)."""
        t = self.first_after(after)
        while t <= until:
            yield t
            t = self.first_after(t)

    def count(self, after: datetime, until: datetime) -> int:
        """How many scheduled instants (after, until] holds, without visiting them one by one
        (but month by month for a schedule on some days of the month)."""
        if until <= after:
            return 0
        if self.days is None:
            first = self.first_after(after)
            return 0 if first > until else (until - first) // self.step + 1
        n, t = 0, self.first_after(after)
        while t <= until:
            n += 1
            t = self.first_after(t)
        return n


Page = DuePage  # a job's page of due items (the port's shape; monthly-settlement's listing too)


def _always(_ctx: Any, _at: datetime) -> bool:
    return True


def unchanged(_ctx: Any, item: Any) -> Any:
    """Reload for items whose step reads everything it decides on afresh."""
    return item


@dataclass(frozen=True)
class Work:
    """A job's work split into shards, so that it can run inline or fanned out (jobs/fanout.py)
    with the same steps: `prepare` once per run (False: nothing to do at this instant), then per
    shard pages of due items (`items(ctx, at, shard, cursor, limit)`) through steps.run_each
    with `step(ctx, at)`; `reload(ctx, item)` reads an item again after a lost race."""

    items: Callable[[Any, datetime, int, Any, int | None], Page]
    step: Callable[[Any, datetime], Callable[[Any], steps.Outcome]]  # (ctx, at) -> the step of one item
    reload: Callable[[Any, Any], Any] = unchanged
    prepare: Callable[[Any, datetime], bool] = _always

    def run_page(self, ctx: Any, items: Iterable[Any], at: datetime) -> Summary:
        """One page of due items through the job's step (the item reloaded with `ctx` after a lost race)."""
        return steps.run_each(items, self.step(ctx, at), lambda item: self.reload(ctx, item))

    def run(self, ctx: Any, at: datetime) -> Summary:
        """Inline: every shard, each in one page (listed lazily, as the steps go)."""
        if not self.prepare(ctx, at):
            return {}
        counts: Summary = {}
        for shard in ctx.uow().due.shards():
            steps.add(counts, self.run_page(ctx, self.items(ctx, at, shard, None, None), at))
        return counts


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule
    run: Callable[[Any, datetime], Summary]  # (ctx, at) -> counts
    # the earliest instant at which the job may have work, for its runs after ctx.now (None:
    # nothing due; a job without it runs at every instant); lets the test clock go straight to
    # the next run with work. Asked again after every run that acted: an answer that only reads
    # due indexes is remembered by store/dynamodb/watch.py until a write could change it.
    next_due: Callable[[Any], datetime | None] | None = None
    outcomes: tuple[str, ...] = ()  # counts always present in a summary, zero when nothing happened
    work: Work | None = None  # the sharded work of `run` (None: the job runs inline only)
    # what a run at or before an instant will act on, for the operators (jobs/due.py): (ctx, before)
    # -> items {<key>, "job", "due_at", "reason"}; None: the job lists nothing
    due: Callable[[Any, datetime], Iterator[DueItem]] | None = None

    @classmethod
    def sharded(cls, name: str, schedule: Schedule, work: Work,
                next_due: Callable[[Any], datetime | None] | None = None, outcomes: tuple[str, ...] = (),
                due: Callable[[Any, datetime], Iterator[DueItem]] | None = None) -> Job:
        return cls(name, schedule, work.run, next_due, outcomes, work, due)

    def execute(self, ctx: Any, at: datetime) -> tuple[Summary, int]:
        """Run as of `at`: the summary, and how many items failed (they stay due for the next run)."""
        with counting_failures() as failures:
            counts = self.run(ctx, at)
        return self.summary(counts), len(failures)

    def summary(self, counts: Summary | None = None) -> Summary:
        out = {k: 0 for k in self.outcomes}
        out.update(counts or {})
        return out

    def acted(self, summary: Summary) -> bool:
        """Whether a run changed anything (the outcomes that change nothing are logs.IDLE_OUTCOMES)."""
        return self.acted_on(summary) > 0

    @staticmethod
    def acted_on(summary: Summary) -> int:
        """How many items a run acted on (its outcomes but logs.IDLE_OUTCOMES)."""
        return logs.acted_on(summary)


@dataclass(frozen=True)
class Listed:
    """How the due-work list (jobs/due.py) shows an item of a job's due index: by its identifying
    attribute (`sdkappid`, `account_id`) and the reason the job will act on it."""

    key: str
    reason: Callable[[Any], str]

    def item(self, job: str, index: DueIndex, x: Any) -> DueItem:
        ident = getattr(x, self.key)
        return {self.key: int(ident) if self.key == "sdkappid" else ident, "job": job,
                "due_at": iso(getattr(x, index.attr)), "reason": self.reason(x)}


def due_job(name: str, schedule: Schedule, index: DueIndex, step: Callable[[Any, Any, datetime], steps.Outcome], *,
            outcomes: tuple[str, ...], reload: Callable[[Any, Any], Any] = unchanged,
            pages: Callable[[Any, Page], Page] | None = None, listed: Listed | None = None) -> Job:
    """A query-and-step job: its due items are those of `index` whose instant has come (read through
    the unit of work's `due`, shard by shard), each acted on by `step(ctx, item, at)`; `reload(ctx,
    item)` reads one again after a lost race; `pages(ctx, page)` wraps a page (the reads it batches);
    the test clock skips to the index's earliest instant (`next_due`); `listed` shows its items in the
    due-work list."""

    def items(ctx: Any, at: datetime, shard: int, cursor: Any, limit: int | None) -> Page:
        page = ctx.uow().due.page(index, at, shard, cursor, limit)
        return page if pages is None else pages(ctx, page)

    def next_due(ctx: Any) -> datetime | None:
        earliest: datetime | None = ctx.uow().due.earliest(index)
        return earliest

    def due(ctx: Any, before: datetime) -> Iterator[DueItem]:
        assert listed is not None
        return (listed.item(name, index, x) for x in ctx.uow().due.items(index, before))

    work = Work(items, lambda ctx, at: lambda item: step(ctx, item, at), reload)
    return Job.sharded(name, schedule, work, next_due, outcomes, due if listed is not None else None)


def declared() -> dict[str, Job]:
    """Every job of the jobs package: each module that declares one as its `JOB`, in module-name order
    (the order of the runs of one instant; the contract's schedules give no two jobs the same
    instant). A new job is its module (and its test): nothing lists it elsewhere."""
    import chalicelib.jobs as package  # the package of this module: its modules, imported when asked

    found: dict[str, Job] = {}
    for info in pkgutil.iter_modules(package.__path__):
        job = getattr(importlib.import_module(f"{package.__name__}.{info.name}"), "JOB", None)
        if isinstance(job, Job):
            found[job.name] = job
    return found
