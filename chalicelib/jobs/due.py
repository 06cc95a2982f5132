"""Due work per job (the operators' view): what each job will act on at or before an instant, as each
job declares it (`Job.due`: its due index read through the unit of work, Queries per shard, never a
Scan; push billing and the settlement list what their next run bills)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.jobs.registry import DueItem, declared
from chalicelib.services.context import Ctx


def listed() -> list[str]:
    """The jobs that list their due work (every job declares how)."""
    return [name for name, job in declared().items() if job.due is not None]


def due(job: str | None, ctx: Ctx, before: datetime, limit: int) -> list[DueItem]:
    """Due items of one job (or every job) at or before `before` (as of ctx.now), earliest first, at
    most `limit`."""
    jobs = declared()
    listers = [jobs[job].due] if job else [j.due for j in jobs.values()]
    out: list[DueItem] = []
    for lister in listers:
        if lister is None:
            continue
        for n, item in enumerate(lister(ctx, before)):
            if n >= limit:
                break
            out.append(item)
    out.sort(key=lambda i: (i["due_at"], i["job"]))
    return out[:limit]
