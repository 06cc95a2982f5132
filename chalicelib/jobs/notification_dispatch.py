"""Job notification-dispatch (hourly at :45; not in the contract's table): the outbox's safety net.

Notifications are sent right after the transaction that records them; this job sends those left
`pending` past their lease (the sender crashed, or SES/SNS refused), with a growing back-off.
Like every job's, its runs are listed by the test clock only when they did something."""

from __future__ import annotations

from chalicelib.jobs.registry import Listed, Schedule, due_job
from chalicelib.services import notifications
from chalicelib.store.dynamodb.models import NotificationModel
from chalicelib.store.port import DueIndex

JOB = due_job(
    "notification-dispatch", Schedule(minute=45),
    DueIndex(NotificationModel, "send_due", "due_shard", "send_due_at"),
    notifications.dispatch_due, reload=notifications.reload, outcomes=("sent", "retry", "failed"),
    listed=Listed("account_id", lambda n: f"send {n.kind} by {n.channel}"),
)
