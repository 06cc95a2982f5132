"""Job renewal-batches (hourly at :25): finish the batch renewals a crash left with items pending."""

from __future__ import annotations

from chalicelib.jobs.registry import Listed, Schedule, due_job
from chalicelib.services import renewals
from chalicelib.services.context import Ctx
from chalicelib.store.dynamodb.models import RenewalBatchModel
from chalicelib.store.port import DueIndex


def reload(ctx: Ctx, batch: RenewalBatchModel) -> RenewalBatchModel:
    with ctx.uow() as u:
        found = u.renewals.get(batch.account_id, batch.renewal_id)
    return found if found is not None else batch


def reason(batch: RenewalBatchModel) -> str:
    return f"finish batch renewal {batch.renewal_id} ({batch.applied.count('.')} of {len(batch.applied)} items pending)"


# a batch is open from its payment until its request (or, after a crash, this job) applied every item
JOB = due_job(
    "renewal-batches", Schedule(minute=25), DueIndex(RenewalBatchModel, "open_batches", "open_shard", "created_at"),
    lambda ctx, batch, at: renewals.finish_open(ctx, batch), reload=reload, outcomes=("finished", "skipped"),
    listed=Listed("account_id", reason),
)
