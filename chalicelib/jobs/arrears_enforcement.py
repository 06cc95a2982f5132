"""Job arrears-enforcement (hourly at :15): stop the enabled apps of accounts 24 h in arrears."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.jobs.registry import Job, Schedule, Work
from chalicelib.services import billing
from chalicelib.services.context import Ctx
from chalicelib.store.due import DuePage, earliest_due
from chalicelib.store.models import AccountModel


def items(ctx: Ctx, at: datetime, shard: int, cursor: Any, limit: int | None) -> DuePage:
    return DuePage(AccountModel.arrears_due, AccountModel.arrears_due_at, at, shard, cursor, limit)


WORK = Work(items, lambda ctx, at: lambda acct: billing.enforce_arrears(ctx, acct))


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(AccountModel.arrears_due, "arrears_due_at")


JOB = Job.sharded("arrears-enforcement", Schedule(minute=15), WORK, next_due, outcomes=("accounts", "stopped"))
