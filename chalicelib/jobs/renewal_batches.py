"""Job renewal-batches (hourly at :25): finish the batch renewals a crash left with items pending."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.jobs.registry import Job, Schedule, Work
from chalicelib.services import renewals
from chalicelib.services.context import Ctx
from chalicelib.store.due import DuePage, earliest_due
from chalicelib.store.models import RenewalBatchModel


def items(ctx: Ctx, at: datetime, shard: int, cursor: Any, limit: int | None) -> DuePage:
    return DuePage(RenewalBatchModel.open_batches, RenewalBatchModel.created_at, at, shard, cursor, limit)


def reload(ctx: Ctx, batch: RenewalBatchModel) -> RenewalBatchModel:
    with ctx.uow() as u:
        found = u.renewals.get(batch.account_id, batch.renewal_id)
    return found if found is not None else batch


WORK = Work(items, lambda ctx, at: lambda batch: renewals.finish_open(ctx, batch), reload)


def next_due(ctx: Ctx) -> datetime | None:
    return earliest_due(RenewalBatchModel.open_batches, "created_at")


JOB = Job.sharded("renewal-batches", Schedule(minute=25), WORK, next_due, outcomes=("finished", "skipped"))
