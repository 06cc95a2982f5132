"""Job push-quota-billing (daily 00:30 UTC): daily push bills for the previous local day."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.domain.calendar import local_date
from chalicelib.jobs import steps
from chalicelib.jobs.registry import Job, Schedule, Summary, register
from chalicelib.services import billing
from chalicelib.services.context import Ctx


def run(ctx: Ctx, at: datetime) -> Summary:
    day = local_date(at, ctx.tz) - timedelta(days=1)
    billing.close_push_day(ctx, day)  # push calls of the day are refused from now on
    return steps.run_each(billing.push_accounts(billing.push_billing_apps(ctx.uow)),
                          lambda item: billing.push_bill(ctx, day, *item),
                          lambda item: billing.reload_push_account(ctx, item))


SCHEDULE = Schedule(minute=30, hour=0)


def next_due(ctx: Ctx) -> datetime | None:
    """The first run after ctx.now that bills a day with a quota above 100 (or releases an app):
    a run bills the local day before its own."""
    return billing.push_next_due(ctx, local_date(SCHEDULE.first_after(ctx.now), ctx.tz) - timedelta(days=1))


JOB = register(
    Job("push-quota-billing", SCHEDULE, run, next_due, outcomes=("billed", "skipped", "no_charge", "released"))
)
