"""Job notification-dispatch (hourly at :45; not in the contract's table): the outbox's safety net.

Notifications are sent right after the transaction that records them; this job sends those left
`pending` past their lease (the sender crashed, or SES/SNS refused), with a growing back-off.
The test clock lists its runs only when it did something, so `jobs_run` keeps the contract's shape."""

from __future__ import annotations

from datetime import datetime

from chalicelib.jobs import steps
from chalicelib.jobs.registry import Job, Schedule, Summary, register
from chalicelib.services import notifications
from chalicelib.services.context import Ctx
from chalicelib.store.due import due_items, earliest_due
from chalicelib.store.models import NotificationModel


def run(ctx: Ctx, at: datetime) -> Summary:
    pending = due_items(NotificationModel.send_due, NotificationModel.send_due_at, at)
    return steps.run_each(pending, lambda n: notifications.dispatch_due(n, at), notifications.reload)


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(NotificationModel.send_due, "send_due_at")


JOB = register(
    Job("notification-dispatch", Schedule(minute=45), run, next_due, outcomes=("sent", "retry", "failed"),
        listed_when_idle=False, affects=())
)
