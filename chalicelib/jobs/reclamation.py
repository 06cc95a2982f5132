"""Job reclamation (daily 03:00 UTC): reclaim apps 90 days after their stop or disable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.jobs.registry import Job, Schedule, Work
from chalicelib.services import lifecycle
from chalicelib.services.context import Ctx
from chalicelib.store.due import DuePage, earliest_due
from chalicelib.store.models import AppModel


def items(ctx: Ctx, at: datetime, shard: int, cursor: Any, limit: int | None) -> DuePage:
    return DuePage(AppModel.reclaim_due, AppModel.reclaim_due_at, at, shard, cursor, limit)


WORK = Work(items, lambda ctx, at: lambda app: lifecycle.reclaim_due(ctx, app), lifecycle.reload_app)


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(AppModel.reclaim_due, "reclaim_due_at")


JOB = Job.sharded("reclamation", Schedule(minute=0, hour=3), WORK, next_due,
                outcomes=("reclaimed", "skipped"))
