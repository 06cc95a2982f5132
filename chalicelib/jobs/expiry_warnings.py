"""Job expiry-warnings (daily 01:00 UTC): warnings on local days E-6 ... E+1."""

from __future__ import annotations

from chalicelib.domain.calendar import iso
from chalicelib.jobs.registry import Listed, Schedule, due_job
from chalicelib.services import lifecycle
from chalicelib.store.dynamodb.models import AppModel
from chalicelib.store.port import DueIndex

JOB = due_job(
    "expiry-warnings", Schedule(minute=0, hour=1), DueIndex(AppModel, "warn_due", "due_shard", "warn_due_at"),
    lambda ctx, app, at: lifecycle.warn(ctx, app), reload=lifecycle.reload_app, pages=lifecycle.with_addressees,
    outcomes=("warned", "skipped"),
    listed=Listed("sdkappid", lambda a: f"expiry warning ({a.edition}, expires {iso(a.expires_at)})"),
)
