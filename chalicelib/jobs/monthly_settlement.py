"""Job monthly-settlement (02:00 UTC on days 1-3): one monthly bill per account for the previous
local month, on local days 1-3 only; never twice (deterministic bill key, conditional write)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.calendar import local_date, month_key, previous_month
from chalicelib.jobs import steps
from chalicelib.jobs.registry import Job, Schedule, Summary, register
from chalicelib.services import billing
from chalicelib.services.context import Ctx


def run(ctx: Ctx, at: datetime) -> Summary:
    if local_date(at, ctx.tz).day > 3:
        return {}
    month = previous_month(month_key(at, ctx.tz))
    billing.close_month(month)  # before the month's usage is read: later reports of it are refused
    return steps.run_each(billing.usage_accounts(month),
                          lambda item: billing.settle_account(ctx, month, item[0], item[1]))


JOB = register(
    Job("monthly-settlement", Schedule(minute=0, hour=2, days=(1, 2, 3)), run,
        outcomes=("billed", "skipped", "no_charge"),
        affects=("arrears-enforcement", "notification-dispatch"))  # a bill may start arrears; notices
)
