"""Webhook endpoints (an account's, and the operators' feed of every account) and their deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from chalice import Blueprint
from pydantic import Field

from chalicelib.api import schemas as s
from chalicelib.api.events import Webhook
from chalicelib.api.http import Call, route
from chalicelib.services import webhooks
from chalicelib.services.events import TYPES
from chalicelib.services.idempotency import Response
from chalicelib.store.dynamodb.models import WebhookModel

bp = Blueprint(__name__)


_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
URL_PATTERN = rf"^https?://{_LABEL}(?:\.{_LABEL})*(?::{_PORT})?(?:[/?#][!-~]*)?$"  # a host name or IPv4 address
EventName = Annotated[str, Field(json_schema_extra={"enum": ["*", *TYPES]})]


class WebhookCreate(s.Request):
    url: str = Field(min_length=8, max_length=2048, pattern=URL_PATTERN,
                     description="https URL (http and local hosts: local stage only)")
    events: list[EventName] = Field(min_length=1, max_length=100, description='"*" or event types')


class WebhookList(s.Reply):
    items: list[Webhook]


class Delivery(s.Reply):
    delivery_id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: str  # pending | delivered | failed
    attempts: int
    created_at: str
    next_attempt_at: str | None
    last_attempt_at: str | None
    last_status: int | None
    last_response: str | None  # at most 1 KB of the receiver's answer
    last_error: str | None
    delivered_at: str | None


def created(w: WebhookModel) -> Response:
    return 201, webhooks.render(w, secret=True)


def changed(w: WebhookModel) -> Response:
    return 200, webhooks.render(w)


def rotated(w: WebhookModel) -> Response:
    return 200, webhooks.render(w, secret=True)


@route(bp, "/v1/accounts/{account_id}/webhooks", "POST", summary="Add a webhook endpoint (the secret is shown once)",
       body=WebhookCreate, answer=Webhook, status=201, idempotent=True, errors=(409,))
def create_webhook(call: Call, account_id: str) -> Response:
    b = call.body
    return webhooks.create(call.ctx, account_id, b.url, b.events, call.idem(f"webhook:{account_id}"), created)


@route(bp, "/v1/ops/webhooks", "POST", summary="Subscribe to every account's events (operator)", body=WebhookCreate,
       answer=Webhook, status=201, idempotent=True, roles=("operator",), errors=(409,))
def create_ops_webhook(call: Call) -> Response:
    b = call.body
    return webhooks.create(call.ctx, None, b.url, b.events, call.idem("webhook:*"), created)


@route(bp, "/v1/accounts/{account_id}/webhooks", summary="The account's webhook endpoints", answer=WebhookList)
def list_webhooks(call: Call, account_id: str) -> dict[str, Any]:
    return {"items": [webhooks.render(w) for w in webhooks.listed(call.ctx, account_id)]}


@route(bp, "/v1/ops/webhooks", summary="The operator-wide webhook endpoints (operator)", answer=WebhookList,
       roles=("operator",))
def list_ops_webhooks(call: Call) -> dict[str, Any]:
    return {"items": [webhooks.render(w) for w in webhooks.listed(call.ctx, None)]}


@route(bp, "/v1/webhooks/{webhook_id}", "DELETE", summary="Remove a webhook endpoint", answer=Webhook)
def delete_webhook(call: Call, webhook_id: str) -> Response:
    return webhooks.delete(call.ctx, webhook_id, changed)


@route(bp, "/v1/webhooks/{webhook_id}/rotate-secret", "POST", status=200, answer=Webhook,
       summary="A new secret (shown once); the old one keeps signing for 24 h beside it")
def rotate_webhook_secret(call: Call, webhook_id: str) -> Response:
    return webhooks.rotate_secret(call.ctx, webhook_id, rotated)


@route(bp, "/v1/webhooks/{webhook_id}/deliveries", summary="The endpoint's deliveries, oldest first",
       answer=s.page_of(Delivery), query=("limit", "next_token"))
def list_deliveries(call: Call, webhook_id: str) -> dict[str, Any]:
    page = webhooks.deliveries(call.ctx, webhook_id, call.limit(), call.query("next_token"))
    return {"items": [webhooks.render_delivery(d) for d in page.items], "next_token": page.next_token}


@route(bp, "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", "POST", status=200, answer=Delivery,
       summary="Attempt a delivery again now")
def retry_delivery(call: Call, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    return webhooks.render_delivery(webhooks.retry(call.ctx, webhook_id, delivery_id))
