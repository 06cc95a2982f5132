"""Job arrears-enforcement (hourly at :15): stop the enabled apps of accounts 24 h in arrears."""

from __future__ import annotations

from datetime import datetime

from chalicelib.jobs.registry import Job, Schedule, Summary, register
from chalicelib.services import billing
from chalicelib.services.context import Ctx
from chalicelib.store.due import earliest_due
from chalicelib.store.models import AccountModel


def run(ctx: Ctx, at: datetime) -> Summary:
    counts = {"accounts": 0, "stopped": 0}
    for acct in billing.accounts_in_arrears_due(at):
        counts["accounts"] += 1
        counts["stopped"] += billing.enforce_arrears(ctx, acct)
    return counts


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(AccountModel.arrears_due, "arrears_due_at")


JOB = register(Job("arrears-enforcement", Schedule(minute=15), run, next_due, outcomes=("accounts", "stopped")))
