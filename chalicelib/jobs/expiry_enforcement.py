"""Job expiry-enforcement (hourly at :05): auto-renew at expiry; stop 24 h after expiry."""

from __future__ import annotations

from chalicelib.jobs.registry import Listed, Schedule, due_job
from chalicelib.services import lifecycle
from chalicelib.store.dynamodb.models import AppModel
from chalicelib.store.port import DueIndex

JOB = due_job(
    "expiry-enforcement", Schedule(minute=5), DueIndex(AppModel, "enforce_due", "due_shard", "enforce_due_at"),
    lambda ctx, app, at: lifecycle.enforce(ctx, app), reload=lifecycle.reload_app, pages=lifecycle.with_addressees,
    outcomes=("renewed", "renew_failed", "given_up", "stopped", "skipped"),
    listed=Listed("sdkappid", lambda a: "auto-renew" if a.auto_renew and a.status == "enabled"
                  else "expiry: stop 24 h after"),
)
