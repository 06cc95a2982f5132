"""Events (every committed change) and the operator's audit log (contract "Events, webhooks and the
audit log"); the event types and their data schemas for the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalice import Blueprint
from pydantic import BaseModel

from chalicelib.api import schemas as s
from chalicelib.api.http import Call, route
from chalicelib.domain.errors import Forbidden, InvalidRequest
from chalicelib.jobs.runner import load_jobs
from chalicelib.services import events
from chalicelib.store.port import EventFilter, Page

bp = Blueprint(__name__)


class Actor(s.Reply):
    role: str  # customer | operator | service | system
    sub: str | None = None  # absent: an operator, as a customer sees it


class Event(s.Reply):
    event_id: str
    type: str
    occurred_at: str
    account_id: str | None
    sdkappid: int | None
    actor: Actor
    request_id: str | None
    data: dict[str, Any]


class ArrearsStarted(s.Reply):
    account: s.Account
    bill: s.Bill


class NotificationState(s.Notification):
    account_id: str
    status: str  # failed
    attempts: int
    last_error: str | None


class Webhook(s.Reply):
    webhook_id: str
    account_id: str | None  # null: the operator-wide feed
    url: str
    events: list[str]
    status: str  # enabled | disabled | deleted
    created_at: str
    secret: str | None = None  # only in the answers of creation and rotation


DATA_SCHEMAS: dict[str, type[BaseModel]] = {
    name: model for name, model in (
        *((n, getattr(s, n, None)) for n in set(events.TYPES.values())),
        ("ArrearsStarted", ArrearsStarted), ("Webhook", Webhook), ("NotificationState", NotificationState),
    ) if model is not None
}


def event_types() -> dict[str, type[BaseModel]]:
    """Every event type with the model of its `data` (the OpenAPI document's webhooks section)."""
    return {t: DATA_SCHEMAS[name] for t, name in events.TYPES.items()}


def _when(call: Call, name: str) -> datetime | None:
    raw = call.query(name)
    if not raw:
        return None
    try:
        return s.instant(raw)
    except ValueError as err:
        raise InvalidRequest(f"{name}: {err}") from None


def _listed(call: Call, page: Page[Any]) -> dict[str, Any]:
    customer = call.ctx.principal.role == "customer"
    return {"items": [events.render(e, customer) for e in page.items], "next_token": page.next_token}


@route(bp, "/v1/events", summary="Events, newest first (a customer: its own account's)", answer=s.page_of(Event),
       query=("account_id", "type", "sdkappid", "actor", "from", "to", "limit", "next_token"))
def list_events(call: Call) -> dict[str, Any]:
    kind = call.query("type") or None
    if kind is not None and kind not in events.TYPES:
        raise InvalidRequest(f"type must be one of {', '.join(events.TYPES)}")
    raw_app = call.query("sdkappid") or None
    if raw_app is not None and not (raw_app.isascii() and raw_app.isdigit() and len(raw_app) <= 12):
        raise InvalidRequest("sdkappid must be an integer")
    actor = call.query("actor") or None
    if actor is not None and call.ctx.principal.role != "operator":
        raise Forbidden("only operators filter events by actor")
    where = EventFilter(type=kind, account_id=call.query("account_id") or None,
                        sdkappid=int(raw_app) if raw_app else None, actor=actor,
                        api_only=actor is not None and actor not in load_jobs())
    found = events.list_events(call.ctx, where, _when(call, "from"), _when(call, "to"), call.limit(),
                               call.query("next_token"))
    return _listed(call, found)


@route(bp, "/v1/ops/audit", summary="The events caused by API calls, newest first, by actor (operator)",
       answer=s.page_of(Event), query=("actor", "from", "to", "limit", "next_token"), roles=("operator",))
def list_audit(call: Call) -> dict[str, Any]:
    where = EventFilter(actor=call.query("actor") or None, api_only=True)
    found = events.list_events(call.ctx, where, _when(call, "from"), _when(call, "to"), call.limit(),
                               call.query("next_token"))
    return _listed(call, found)
