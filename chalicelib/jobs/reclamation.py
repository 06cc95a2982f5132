"""Job reclamation (daily 03:00 UTC): reclaim apps 90 days after their stop or disable."""

from __future__ import annotations

from datetime import datetime

from chalicelib.jobs import steps
from chalicelib.jobs.registry import Job, Schedule, Summary, register
from chalicelib.services import lifecycle
from chalicelib.services.context import Ctx
from chalicelib.store.due import due_items, earliest_due
from chalicelib.store.models import AppModel


def run(ctx: Ctx, at: datetime) -> Summary:
    apps = due_items(AppModel.reclaim_due, AppModel.reclaim_due_at, at)
    return steps.run_each(apps, lambda app: lifecycle.reclaim_due(ctx, app), lifecycle.reload_app)


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(AppModel.reclaim_due, "reclaim_due_at")


JOB = register(Job("reclamation", Schedule(minute=0, hour=3), run, next_due, outcomes=("reclaimed", "skipped"),
                   affects=("notification-dispatch",)))
