"""Events: every committed change writes one, in its own transaction (the unit of work's outbox);
read back newest first by account, by day or (API calls only) by actor, never by a scan.

A use case declares its change's event with :func:`emit` before it commits; the unit of work
writes it as one more item of the same TransactWriteItems (store/port.py, ``commit``), so
a transaction that fails writes no event and a committed one exactly one. ``data`` is the resource
as the API answers it after the change: given, or (``None``) the answer of the request itself."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.calendar import iso
from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.services.context import Ctx
from chalicelib.store.dynamodb.models import EventModel
from chalicelib.store.port import Event, EventFilter, Page, UnitOfWork

# every event type and what its `data` holds (the OpenAPI document names each one's schema)
TYPES: dict[str, str] = {
    "account.created": "Account",
    "account.updated": "Account",  # its contact, contacts or balance alert changed
    "account.topped_up": "TopupResult",
    "account.arrears_started": "ArrearsStarted",  # a posted bill that took the balance below zero
    "account.arrears_ended": "TopupResult",  # a top-up that brought the balance back to zero or above
    "voucher.granted": "Voucher",
    "app.created": "App",
    "app.enabled": "App",
    "app.disabled": "App",
    "app.stopped": "App",
    "app.reclaimed": "App",
    "app.trial_extended": "App",
    "app.expiry_warning": "App",
    "package.purchased": "PurchaseResult",
    "package.renewed": "PurchaseResult",
    "package.upgraded": "PurchaseResult",
    "package.refunded": "RefundResult",
    "package.renewal_mode_changed": "App",
    "package.renewal_failed": "App",
    "renewal.paid": "RenewalResult",  # a batch renewal paid for (its items follow, each package.renewed)
    "renewal.item_released": "RenewalItemReleased",  # an item whose package changed since: its hold released
    "plugin.quota_changed": "PushQuota",
    "bill.posted": "Bill",
    "notification.failed": "NotificationState",  # a notification that ran out of attempts
    "notification.retried": "NotificationState",  # an operator sent a failed one again
    "webhook.created": "Webhook",
    "webhook.deleted": "Webhook",
    "webhook.secret_rotated": "Webhook",
    "webhook.disabled": "Webhook",
}
PURCHASE_TYPES = {"new": "package.purchased", "reactivation": "package.purchased", "renewal": "package.renewed",
                  "auto_renewal": "package.renewed", "upgrade": "package.upgraded"}
DEFAULT_SPAN = timedelta(days=30)  # a listing without `from` goes back this far from `to`
MAX_DAYS = 92  # the by-day feed walks at most this many day partitions in one listing
FLOOR = datetime(2000, 1, 1, tzinfo=UTC)  # listings' bounds are clamped to these (ids hold 4-digit years)
CEILING = datetime(9999, 1, 1, tzinfo=UTC)


def emit(uow: UnitOfWork, ctx: Ctx, type: str, *, account_id: str | None = None, sdkappid: int | None = None,
         data: dict[str, Any] | None = None) -> None:
    """Declare the event of the change `uow` is about to commit (its actor and request id from `ctx`)."""
    if type not in TYPES:
        raise ValueError(f"unknown event type {type!r}")
    actor = ctx.acting
    uow.emit(Event(type=type, at=ctx.now, actor=(actor.role, actor.sub), request_id=ctx.request_id,
                   account_id=account_id, sdkappid=sdkappid, data=data))


def as_dict(e: EventModel) -> dict[str, Any]:
    """The Event as stored (operator view: the actor in full)."""
    return {
        "event_id": e.event_id,
        "type": e.type,
        "occurred_at": iso(e.occurred_at),
        "account_id": e.account_id,
        "sdkappid": None if e.sdkappid is None else int(e.sdkappid),
        "actor": {"role": e.actor_role, "sub": e.actor_sub},
        "request_id": e.request_id,
        "data": json.loads(e.data),
    }


def for_customer(event: dict[str, Any]) -> dict[str, Any]:
    """A customer sees an operator actor as its role only."""
    if event["actor"]["role"] == "operator":
        return {**event, "actor": {"role": "operator"}}
    return event


def render(e: EventModel, customer: bool) -> dict[str, Any]:
    out = as_dict(e)
    return for_customer(out) if customer else out


# ------------------------------------------------------------------ listing
@dataclass(frozen=True)
class Span:
    lo: str  # event ids from ...
    hi: str  # ... to (inclusive)
    first_day: str
    last_day: str


def span(ctx: Ctx, start: datetime | None, end: datetime | None, by_day: bool) -> Span:
    """The listing's bounds in UTC, within [FLOOR, CEILING] (no event lies outside); the day feed
    walks at most MAX_DAYS day partitions."""
    end = clamp(end if end is not None else ctx.now)
    start = clamp(start) if start is not None else clamp(end - DEFAULT_SPAN if end - FLOOR > DEFAULT_SPAN else FLOOR)
    if start > end:
        raise InvalidRequest("from must not be after to")
    if by_day and (end - start).days >= MAX_DAYS:
        raise InvalidRequest(f"from and to may be at most {MAX_DAYS} days apart without account_id or actor")
    return Span(f"ev{start:%Y%m%d%H%M%S%f}", f"ev{end:%Y%m%d%H%M%S%f}\uffff", f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}")


def clamp(at: datetime) -> datetime:
    return min(max(at.astimezone(UTC), FLOOR), CEILING)


def _days_down(last: str, first: str) -> list[str]:
    day, out = datetime.fromisoformat(last), list[str]()
    stop = datetime.fromisoformat(first)
    while day >= stop and len(out) < MAX_DAYS:
        out.append(f"{day:%Y-%m-%d}")
        day -= timedelta(days=1)
    return out


def _pack(day: str, token: str | None) -> str:
    return base64.urlsafe_b64encode(json.dumps({"d": day, "t": token}).encode()).decode()


def _unpack(token: str) -> tuple[str, str | None]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(value["d"]), value["t"]
    except (ValueError, TypeError, KeyError):
        raise InvalidRequest("next_token is not valid") from None


def list_events(ctx: Ctx, where: EventFilter, start: datetime | None, end: datetime | None, limit: int,
                token: str | None) -> Page[EventModel]:
    """Newest first: one account's (its index), one actor's (API calls), or every account's (day by
    day). A customer sees its own account only (another account is 'not found')."""
    p = ctx.principal
    if p.role == "customer":
        if where.account_id is not None and where.account_id != p.account_id:
            raise NotFound(f"account {where.account_id} not found")
        where = EventFilter(where.type, p.account_id, where.sdkappid, where.actor, where.api_only)
    else:
        p.require("operator")
    index = "by_account" if where.account_id is not None else (
        "by_actor" if where.actor is not None and where.api_only else "by_day")
    s = span(ctx, start, end, index == "by_day")
    with ctx.uow() as u:
        if index == "by_account":
            return u.events.newest(index, str(where.account_id), s.lo, s.hi, limit, token, where)
        if index == "by_actor":
            return u.events.newest(index, str(where.actor), s.lo, s.hi, limit, token, where)
        return _by_day(u, s, where, limit, token)


def _by_day(u: UnitOfWork, s: Span, where: EventFilter, limit: int, token: str | None) -> Page[EventModel]:
    """The by-day partitions from the newest day down, until `limit` items (or the span's first day)."""
    days = _days_down(s.last_day, s.first_day)
    inner: str | None = None
    if token is not None:
        day, inner = _unpack(token)
        if day not in days:
            raise InvalidRequest("next_token is not valid")
        days = days[days.index(day):]
    items: list[EventModel] = []
    for i, day in enumerate(days):
        found = u.events.newest("by_day", day, s.lo, s.hi, limit - len(items), inner, where)
        items += found.items
        inner = None
        if found.next_token is not None:
            return Page(items, _pack(day, found.next_token))
        if len(items) >= limit:
            return Page(items, _pack(days[i + 1], None) if i + 1 < len(days) else None)
    return Page(items, None)
