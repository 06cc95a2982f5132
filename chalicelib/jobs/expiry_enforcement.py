"""Job expiry-enforcement (hourly at :05): auto-renew at expiry; stop 24 h after expiry."""

from __future__ import annotations

from datetime import datetime

from chalicelib.jobs import steps
from chalicelib.jobs.registry import Job, Schedule, Summary, register
from chalicelib.services import lifecycle
from chalicelib.services.context import Ctx
from chalicelib.store.due import due_items, earliest_due
from chalicelib.store.models import AppModel


def run(ctx: Ctx, at: datetime) -> Summary:
    apps = due_items(AppModel.enforce_due, AppModel.enforce_due_at, at)
    return steps.run_each(apps, lambda app: lifecycle.enforce(ctx, app), lifecycle.reload_app)


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(AppModel.enforce_due, "enforce_due_at")


JOB = register(
    Job("expiry-enforcement", Schedule(minute=5), run, next_due,
        outcomes=("renewed", "renew_failed", "stopped", "skipped"),
        # a renewal opens a new warning window; a stop leaves the E+1 warning and a reclamation due
        affects=("expiry-warnings", "reclamation", "notification-dispatch"))
)
