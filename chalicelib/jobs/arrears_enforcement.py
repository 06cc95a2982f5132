"""Job arrears-enforcement (hourly at :15): stop the enabled apps of accounts 24 h in arrears."""

from __future__ import annotations

from chalicelib.jobs.registry import Listed, Schedule, due_job
from chalicelib.services import billing
from chalicelib.store.dynamodb.models import AccountModel
from chalicelib.store.port import DueIndex

JOB = due_job(
    "arrears-enforcement", Schedule(minute=15),
    DueIndex(AccountModel, "arrears_due", "due_shard", "arrears_due_at"),
    lambda ctx, acct, at: billing.enforce_arrears(ctx, acct), outcomes=("accounts", "stopped"),
    listed=Listed("account_id", lambda a: "stop apps: 24 h in arrears"),
)
