"""Job expiry-warnings (daily 01:00 UTC): warnings on local days E-6 ... E+1."""

from __future__ import annotations

from datetime import datetime

from chalicelib.jobs import steps
from chalicelib.jobs.registry import Job, Schedule, Summary, register
from chalicelib.services import lifecycle
from chalicelib.services.context import Ctx
from chalicelib.store.due import due_items, earliest_due
from chalicelib.store.models import AppModel


def run(ctx: Ctx, at: datetime) -> Summary:
    apps = due_items(AppModel.warn_due, AppModel.warn_due_at, at)
    return steps.run_each(apps, lambda app: lifecycle.warn(ctx, app), lifecycle.reload_app)


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(AppModel.warn_due, "warn_due_at")


# a warning moves only its app's own warn_due_at, and records notifications (sent, or left for the dispatcher)
JOB = register(Job("expiry-warnings", Schedule(minute=0, hour=1), run, next_due, outcomes=("warned", "skipped"),
                   affects=("notification-dispatch",)))
