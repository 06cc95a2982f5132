"""Job notification-dispatch (hourly at :45; not in the contract's table): the outbox's safety net.

Notifications are sent right after the transaction that records them; this job sends those left
`pending` past their lease (the sender crashed, or SES/SNS refused), with a growing back-off.
Like every job's, its runs are listed by the test clock only when they did something."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.jobs.registry import Job, Schedule, Work
from chalicelib.services import notifications
from chalicelib.services.context import Ctx
from chalicelib.store.due import DuePage, earliest_due
from chalicelib.store.models import NotificationModel


def items(ctx: Ctx, at: datetime, shard: int, cursor: Any, limit: int | None) -> DuePage:
    return DuePage(NotificationModel.send_due, NotificationModel.send_due_at, at, shard, cursor, limit)


WORK = Work(items, lambda ctx, at: lambda n: notifications.dispatch_due(ctx, n, at), notifications.reload)


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(NotificationModel.send_due, "send_due_at")


JOB = Job.sharded("notification-dispatch", Schedule(minute=45), WORK, next_due, outcomes=("sent", "retry", "failed"))
