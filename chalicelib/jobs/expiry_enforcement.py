"""Job expiry-enforcement (hourly at :05): auto-renew at expiry; stop 24 h after expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.jobs.registry import Job, Schedule, Work
from chalicelib.services import lifecycle
from chalicelib.services.context import Ctx
from chalicelib.store.due import DuePage, earliest_due
from chalicelib.store.models import AppModel


def items(ctx: Ctx, at: datetime, shard: int, cursor: Any, limit: int | None) -> lifecycle.WithAddressees:
    return lifecycle.WithAddressees(DuePage(AppModel.enforce_due, AppModel.enforce_due_at, at, shard, cursor, limit),
                                    ctx.uow)


WORK = Work(items, lambda ctx, at: lambda app: lifecycle.enforce(ctx, app), lifecycle.reload_app)


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(AppModel.enforce_due, "enforce_due_at")


JOB = Job.sharded("expiry-enforcement", Schedule(minute=5), WORK, next_due,
                outcomes=("renewed", "renew_failed", "given_up", "stopped", "skipped"))
