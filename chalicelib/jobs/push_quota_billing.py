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
    billing.close_push_day(day)  # push calls of the day are refused from now on
    return steps.run_each(billing.push_accounts(billing.push_billing_apps()),
                          lambda item: billing.push_bill(ctx, day, *item), billing.reload_push_account)


def next_due(ctx: Ctx) -> datetime | None:
    """Nothing to bill while no app is in the push-billing index."""
    return ctx.now if any(True for _ in billing.push_billing_apps()) else None


JOB = register(
    Job("push-quota-billing", Schedule(minute=30, hour=0), run, next_due,
        outcomes=("billed", "skipped", "no_charge", "released"),
        affects=("arrears-enforcement", "notification-dispatch"))  # a bill may start arrears; notices
)
