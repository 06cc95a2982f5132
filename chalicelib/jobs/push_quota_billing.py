"""Job push-quota-billing (daily 00:30 UTC): daily push bills for the previous local day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from chalicelib.domain.calendar import iso, local_date
from chalicelib.jobs import steps
from chalicelib.jobs.registry import DueItem, Job, Schedule, Summary
from chalicelib.services import billing
from chalicelib.services.context import Ctx


def run(ctx: Ctx, at: datetime) -> Summary:
    day = local_date(at, ctx.tz) - timedelta(days=1)
    # push calls of the day are refused once it is closed: by the run's first bill (in its
    # transaction), else at the run's end. The bill is of the quota in force, not of the calls, so
    # no call accepted before the close changes what the run bills
    close = billing.PeriodClose(ctx, billing.CLOSED_PUSH_DAY, day.isoformat())
    counts = steps.run_each(billing.push_accounts(billing.push_billing_apps(ctx.uow), ctx.uow),
                            lambda item: billing.push_bill(ctx, day, *item[:3], close=close),
                            lambda item: billing.reload_push_account(ctx, item))
    close.finish()
    return counts


SCHEDULE = Schedule(minute=30, hour=0)


def next_due(ctx: Ctx) -> datetime | None:
    """The first run after ctx.now that bills a day with a quota above 100 (or releases an app):
    a run bills the local day before its own."""
    return billing.push_next_due(ctx, local_date(SCHEDULE.first_after(ctx.now), ctx.tz) - timedelta(days=1))


def due(ctx: Ctx, before: datetime) -> Iterator[DueItem]:
    """The apps the next run (at or before `before`) bills: those in the push-billing index."""
    at = next(SCHEDULE.instants(ctx.now, before), None)
    if at is not None:
        for app in billing.push_billing_apps(ctx.uow):
            yield {"sdkappid": int(app.sdkappid), "job": JOB.name, "due_at": iso(at),
                   "reason": f"daily push bill (quota {int(app.push_quota or ctx.catalog.included_push_calls)})"}


JOB = Job("push-quota-billing", SCHEDULE, run, next_due, outcomes=("billed", "skipped", "no_charge", "released"),
          due=due)
