"""Job arrears-enforcement (hourly at :15): stop the enabled apps of accounts 24 h in arrears."""

from __future__ import annotations

from datetime import datetime

from chalicelib.jobs import steps
from chalicelib.jobs.registry import Job, Schedule, Summary, register
from chalicelib.services import billing
from chalicelib.services.context import Ctx
from chalicelib.store.due import earliest_due
from chalicelib.store.models import AccountModel


def run(ctx: Ctx, at: datetime) -> Summary:
    return steps.run_each(billing.accounts_in_arrears_due(at), lambda acct: billing.enforce_arrears(ctx, acct))


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(AccountModel.arrears_due, "arrears_due_at")


# a stop gives the app a reclamation due time and sends notices
JOB = register(Job("arrears-enforcement", Schedule(minute=15), run, next_due, outcomes=("accounts", "stopped"),
                   affects=("reclamation", "notification-dispatch")))
