"""Job monthly-settlement (02:00 UTC on days 1-3, the catalog's settlement_days): one monthly bill per
account for the previous local month, on those local days only;
never twice (deterministic bill key, conditional write)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from chalicelib.domain.bills import in_settlement_window, settlement_days
from chalicelib.domain.calendar import iso, local_date, month_key, previous_month
from chalicelib.domain.catalog import CATALOG_PATH, load
from chalicelib.jobs.registry import DueItem, Job, Schedule, Work
from chalicelib.services import billing
from chalicelib.services.context import Ctx


def billed_month(ctx: Ctx, at: datetime) -> str:
    return previous_month(month_key(at, ctx.tz))


def prepare(ctx: Ctx, at: datetime) -> bool:
    if not in_window(ctx, at):
        return False
    billing.close_month(ctx, billed_month(ctx, at))  # before the month's usage is read: later reports are refused
    return True


class Listing:
    """A shard's page of accounts to settle, each with what an earlier run of the window decided
    (None on the window's first day: no earlier run). With `prefetch` (the job's steps) each
    account to settle comes with the page's batched reads of it (billing.UsagePage.with_decided)."""

    def __init__(self, page: billing.UsagePage, later_run: bool, prefetch: bool = True) -> None:
        self.page, self.later_run, self.prefetch = page, later_run, prefetch

    @property
    def cursor(self) -> str | None:
        return self.page.cursor

    def __iter__(self) -> Iterator[tuple[str, list[Any], str | None]]:
        if self.later_run or self.prefetch:
            yield from self.page.with_decided(self.later_run, self.prefetch)
        else:
            yield from ((account_id, usage, None) for account_id, usage in self.page)


def items(ctx: Ctx, at: datetime, shard: int, cursor: Any, limit: int | None, prefetch: bool = True) -> Listing:
    later_run = local_date(at, ctx.tz).day > 1  # a later day of the window finds most accounts settled
    return Listing(billing.UsagePage(ctx.uow, billed_month(ctx, at), shard, cursor, limit), later_run, prefetch)


def to_settle(ctx: Ctx, at: datetime) -> Iterator[str]:
    """The accounts a run at `at` settles: every account with usage in the month on the window's
    first day; on a later day those the earlier runs left (the operators' due-work view)."""
    for shard in ctx.uow().due.shards():
        yield from (account_id for account_id, _, decided in items(ctx, at, shard, None, None, prefetch=False)
                    if decided is None)


def step(ctx: Ctx, at: datetime) -> Callable[[tuple[str, list[Any], str | None]], str]:
    month = billed_month(ctx, at)
    return lambda item: item[2] or billing.settle_account(ctx, month, item[0], item[1])


WORK = Work(items, step, lambda _ctx, item: billing.fresh(item), prepare=prepare)  # a retried account is read afresh
# the deployed schedule (EventBridge's cron, fixed when the app is packaged): the packaged catalog's 1..n
SETTLEMENT_DAYS = settlement_days(load(CATALOG_PATH).lifecycle("settlement_days"))
SCHEDULE = Schedule(minute=0, hour=2, days=SETTLEMENT_DAYS)
MAX_LOOK = 12  # scheduled instants looked at (4 months); beyond, the next instant (it is then run to decide)


def next_due(ctx: Ctx) -> datetime | None:
    """The first scheduled run after ctx.now that `prepare` lets work (a UTC day 1-3 that is
    outside the local days of the window, e.g. the 1st at 02:00 UTC west of UTC, does nothing).
    Every window run closes the month and settles what is left, so each is due; no request."""
    t = first = SCHEDULE.first_after(ctx.now)
    for _ in range(MAX_LOOK):
        if in_window(ctx, t):
            return t
        t = SCHEDULE.first_after(t)
    return first


def in_window(ctx: Ctx, at: datetime) -> bool:
    """Whether a run at `at` settles: its local day is one of the catalog's settlement days."""
    return in_settlement_window(at, ctx.tz, ctx.catalog.lifecycle("settlement_days"))


def due(ctx: Ctx, before: datetime) -> Iterator[DueItem]:
    """The accounts the next run (at or before `before`) settles."""
    at = next(SCHEDULE.instants(ctx.now, before), None)
    if at is not None:
        month = previous_month(month_key(at, ctx.tz))
        for account_id in to_settle(ctx, at):
            yield {"account_id": account_id, "job": JOB.name, "due_at": iso(at), "reason": f"monthly bill for {month}"}


JOB = Job.sharded("monthly-settlement", SCHEDULE, WORK, next_due, outcomes=("billed", "skipped", "no_charge"), due=due)
