"""Job expiry-warnings (daily 01:00 UTC): warnings on local days E-6 ... E+1."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.jobs.registry import Job, Schedule, Work
from chalicelib.services import lifecycle
from chalicelib.services.context import Ctx
from chalicelib.store.due import DuePage, earliest_due
from chalicelib.store.models import AppModel


def items(ctx: Ctx, at: datetime, shard: int, cursor: Any, limit: int | None) -> lifecycle.WithAddressees:
    return lifecycle.WithAddressees(DuePage(AppModel.warn_due, AppModel.warn_due_at, at, shard, cursor, limit),
                                    ctx.uow)


WORK = Work(items, lambda ctx, at: lambda app: lifecycle.warn(ctx, app), lifecycle.reload_app)


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(AppModel.warn_due, "warn_due_at")


JOB = Job.sharded("expiry-warnings", Schedule(minute=0, hour=1), WORK, next_due,
                outcomes=("warned", "skipped"))
