"""Due work per job, from the jobs' own sparse due-time indexes (Queries per shard, never a Scan):
what each job will act on at or before an instant."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from chalicelib.domain.calendar import iso, month_key, previous_month
from chalicelib.jobs import monthly_settlement
from chalicelib.jobs.runner import load_jobs
from chalicelib.services import billing
from chalicelib.services.context import Ctx
from chalicelib.store.due import due_items
from chalicelib.store.models import AccountModel, AppModel, NotificationModel

Item = dict[str, Any]


def _indexed(index: Any, attr: Any, name: str, key: str, reason: Callable[[Any], str]) -> Callable[..., Iterator[Item]]:
    def items(job: str, ctx: Ctx, before: datetime) -> Iterator[Item]:
        for x in due_items(index, attr, before):
            ident = int(getattr(x, key)) if key == "sdkappid" else getattr(x, key)
            yield {key: ident, "job": job, "due_at": iso(getattr(x, name)), "reason": reason(x)}
    return items


def _next_run(job: str, now: datetime, before: datetime) -> datetime | None:
    return next(load_jobs()[job].schedule.instants(now, before), None)


def _push(job: str, ctx: Ctx, before: datetime) -> Iterator[Item]:
    at = _next_run(job, ctx.now, before)
    if at is not None:
        for app in billing.push_billing_apps(ctx.uow):
            yield {"sdkappid": int(app.sdkappid), "job": job, "due_at": iso(at),
                   "reason": f"daily push bill (quota {int(app.push_quota or 100)})"}


def _settlement(job: str, ctx: Ctx, before: datetime) -> Iterator[Item]:
    at = _next_run(job, ctx.now, before)
    if at is not None:
        month = previous_month(month_key(at, ctx.tz))
        for account_id in monthly_settlement.to_settle(ctx, at):
            yield {"account_id": account_id, "job": job, "due_at": iso(at), "reason": f"monthly bill for {month}"}


SOURCES: dict[str, Callable[..., Iterator[Item]]] = {
    "expiry-warnings": _indexed(AppModel.warn_due, AppModel.warn_due_at, "warn_due_at", "sdkappid",
                                lambda a: f"expiry warning ({a.edition}, expires {iso(a.expires_at)})"),
    "expiry-enforcement": _indexed(AppModel.enforce_due, AppModel.enforce_due_at, "enforce_due_at", "sdkappid",
                                   lambda a: "auto-renew" if a.auto_renew and a.status == "enabled"
                                   else "expiry: stop 24 h after"),
    "reclamation": _indexed(AppModel.reclaim_due, AppModel.reclaim_due_at, "reclaim_due_at", "sdkappid",
                            lambda a: f"reclaim ({a.status} since {iso(a.stopped_at or a.disabled_at)})"
                            if (a.stopped_at or a.disabled_at) else "reclaim"),
    "arrears-enforcement": _indexed(AccountModel.arrears_due, AccountModel.arrears_due_at, "arrears_due_at",
                                    "account_id", lambda a: "stop apps: 24 h in arrears"),
    "notification-dispatch": _indexed(NotificationModel.send_due, NotificationModel.send_due_at, "send_due_at",
                                      "account_id", lambda n: f"send {n.kind} by {n.channel}"),
    "push-quota-billing": _push,
    "monthly-settlement": _settlement,
}


def due(job: str | None, ctx: Ctx, before: datetime, limit: int) -> list[Item]:
    """Due items of one job (or every job) at or before `before` (as of ctx.now), earliest first, at
    most `limit`."""
    names = [job] if job else list(SOURCES)
    out: list[Item] = []
    for name in names:
        for n, item in enumerate(SOURCES[name](name, ctx, before)):
            if n >= limit:
                break
            out.append(item)
    out.sort(key=lambda i: (i["due_at"], i["job"]))
    return out[:limit]
