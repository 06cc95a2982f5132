"""Job reclamation (daily 03:00 UTC): reclaim apps 90 days after their stop or disable."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.calendar import iso
from chalicelib.jobs.registry import Listed, Schedule, due_job
from chalicelib.services import lifecycle
from chalicelib.store.dynamodb.models import AppModel
from chalicelib.store.port import DueIndex


def reason(a: Any) -> str:
    since = a.stopped_at or a.disabled_at
    return f"reclaim ({a.status} since {iso(since)})" if since else "reclaim"


JOB = due_job(
    "reclamation", Schedule(minute=0, hour=3), DueIndex(AppModel, "reclaim_due", "due_shard", "reclaim_due_at"),
    lambda ctx, app, at: lifecycle.reclaim_due(ctx, app), reload=lifecycle.reload_app,
    outcomes=("reclaimed", "skipped"), listed=Listed("sdkappid", reason),
)
