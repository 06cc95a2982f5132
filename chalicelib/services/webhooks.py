"""Webhooks: endpoints per account and the operator-wide feed, their deliveries (at least once,
signed, exponential back-off over 3 days), secret rotation with a 24 h overlap, auto-disable.

Deliveries are fed from the events table's stream (chalicelib/readmodels/streams.py): for each event,
one delivery item per subscribed endpoint, created only if absent (keyed by the event id, so a
replayed stream record adds nothing). Deployed, each delivery is a message on the webhooks queue
(the worker in app.py attempts it, and a delivery left pending is sent again with a delay); under
`imbill serve` the stream poller's thread attempts what is due. Either way an attempt first
leases the delivery (its next attempt moves a lease ahead), then POSTs, then marks: a deliverer
that dies between the POST and the mark leaves it due again once the lease passes, so the event
is delivered again (receivers de-duplicate by event id)."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.calendar import iso
from chalicelib.domain.errors import Conflict, InvalidRequest, NotFound
from chalicelib.domain.notices import duration, notice
from chalicelib.integrations import webhook_http
from chalicelib.services import events, idempotency, notifications
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import Answer, Idem, Response
from chalicelib.store.dynamodb.models import (
    OPS_OWNER,
    DeliveryModel,
    EventModel,
    WebhookModel,
    due_shard,
    event_id_floor,
)
from chalicelib.store.port import Page, UnitOfWork, WriteConflict

log = logging.getLogger("imbill.webhooks")

OVERLAP = timedelta(hours=24)  # a rotated secret keeps signing this long beside the new one
GIVE_UP = timedelta(days=3)  # a delivery is retried this long, then failed; an endpoint failing this long is disabled
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=6)
LEASE = timedelta(seconds=60)  # an attempt's head start (more than the 10 s timeout) before another may send
MAX_ENDPOINTS = 20  # per account (and for the operator-wide feed)


def local_stage(ctx: Ctx) -> bool:
    return ctx.settings.stage == "local"


def check_url(url: str, local: bool) -> webhook_http.Target:
    """The SSRF guard of a stage (loopback and http only in `local`), before each delivery."""
    if len(url) > 2048:
        raise InvalidRequest("url must be at most 2048 characters")
    return webhook_http.check_url(url, local)


def check_new_url(ctx: Ctx, url: str) -> None:
    """The guard when an endpoint is created; in `local` (everything allowed) without a DNS lookup,
    which the delivery makes anyway."""
    if local_stage(ctx):
        if len(url) > 2048:
            raise InvalidRequest("url must be at most 2048 characters")
        webhook_http.check_url(url, True, resolver=lambda host, port: [host])
    else:
        check_url(url, False)


# ------------------------------------------------------------------ rendering
def render(w: WebhookModel, secret: bool = False) -> dict[str, Any]:
    out = {"webhook_id": w.webhook_id, "account_id": None if w.owner == OPS_OWNER else w.owner, "url": w.url,
           "events": list(w.events), "status": w.status, "created_at": iso(w.created_at)}
    if secret:
        out["secret"] = w.secret
    return out


def render_delivery(d: DeliveryModel) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return None if value is None else iso(value)

    return {"delivery_id": d.delivery_id, "webhook_id": d.webhook_id, "event_id": d.delivery_id,
            "event_type": d.event_type, "status": d.status, "attempts": int(d.attempts),
            "created_at": iso(d.created_at), "next_attempt_at": when(d.next_attempt_at),
            "last_attempt_at": when(d.last_attempt_at), "last_status": None if d.last_status is None
            else int(d.last_status), "last_response": d.last_response, "last_error": d.last_error,
            "delivered_at": when(d.delivered_at)}


# ------------------------------------------------------------------ endpoints
def _owner_of(ctx: Ctx, account_id: str | None) -> str:
    """The owner an endpoint is created under: the account (its customer or an operator), or the
    operator-wide feed."""
    if account_id is None:
        ctx.principal.require("operator")
        return OPS_OWNER
    ctx.principal.check_account(account_id)
    return account_id


def _event_list(kinds: list[str]) -> list[str]:
    if not kinds:
        raise InvalidRequest("events must name at least one event type, or \"*\"")
    unknown = [k for k in kinds if k != "*" and k not in events.TYPES]
    if unknown:
        raise InvalidRequest(f"events: unknown event type {unknown[0]!r}")
    return ["*"] if "*" in kinds else sorted(set(kinds))


def create(ctx: Ctx, account_id: str | None, url: str, kinds: list[str], idem: Idem,
           answer: Answer[WebhookModel]) -> Response:
    owner = _owner_of(ctx, account_id)
    subscribed = _event_list(kinds)
    check_new_url(ctx, url)

    def act(uow: UnitOfWork) -> WebhookModel:
        if owner != OPS_OWNER and uow.accounts.get(owner) is None:
            raise NotFound(f"account {owner} not found")
        live = [w for w in uow.webhooks.of_owner(owner) if w.status != "deleted"]
        if len(live) >= MAX_ENDPOINTS:
            raise Conflict(f"at most {MAX_ENDPOINTS} webhook endpoints", code="limit_exceeded")
        w = WebhookModel(f"wh{ctx.now:%Y%m%d%H%M%S}{secrets.token_hex(6)}", owner=owner, url=url,
                         events=subscribed, status="enabled", secret=f"whsec_{secrets.token_hex(24)}",
                         created_at=ctx.now, version=0, since=event_id_floor(ctx.now))
        uow.webhooks.add(w)
        events.emit(uow, ctx, "webhook.created", account_id=account_id, data=render(w))
        return w

    return idempotency.once_in(ctx, idem, act, answer)


def find(ctx: Ctx, uow: UnitOfWork, webhook_id: str) -> WebhookModel:
    """The endpoint if the caller may see it (another account's, or the operators' feed for a
    customer, is 'not found')."""
    w = uow.webhooks.get(webhook_id)
    if w is None:
        raise NotFound(f"webhook {webhook_id} not found")
    p = ctx.principal
    if w.owner == OPS_OWNER:
        if not p.is_operator:
            raise NotFound(f"webhook {webhook_id} not found")
    else:
        p.check_account(w.owner)
    return w


def listed(ctx: Ctx, account_id: str | None) -> list[WebhookModel]:
    owner = _owner_of(ctx, account_id)
    with ctx.uow() as u:
        return [w for w in u.webhooks.of_owner(owner) if w.status != "deleted"]


def _change(ctx: Ctx, webhook_id: str, change: Callable[[WebhookModel], None], event: str,
            answer: Answer[WebhookModel]) -> Response:
    def act(uow: UnitOfWork) -> WebhookModel:
        w = find(ctx, uow, webhook_id)
        if w.status == "deleted":
            raise NotFound(f"webhook {webhook_id} not found")
        change(w)
        uow.webhooks.save(w)
        events.emit(uow, ctx, event, account_id=None if w.owner == OPS_OWNER else w.owner, data=render(w))
        return w

    return idempotency.once_in(ctx, idempotency.NONE, act, answer)


def delete(ctx: Ctx, webhook_id: str, answer: Answer[WebhookModel]) -> Response:
    """The endpoint stops receiving (its delivery log stays readable)."""

    def gone(w: WebhookModel) -> None:
        w.status = "deleted"

    return _change(ctx, webhook_id, gone, "webhook.deleted", answer)


def rotate_secret(ctx: Ctx, webhook_id: str, answer: Answer[WebhookModel]) -> Response:
    """A new secret; the old one keeps signing beside it for 24 h (two v1= values)."""

    def rotate(w: WebhookModel) -> None:
        w.previous_secret, w.previous_until = w.secret, ctx.now + OVERLAP
        w.secret = f"whsec_{secrets.token_hex(24)}"

    return _change(ctx, webhook_id, rotate, "webhook.secret_rotated", answer)


def signing_secrets(w: WebhookModel, now: datetime) -> list[str]:
    keep_old = w.previous_secret is not None and w.previous_until is not None and now < w.previous_until
    return [w.secret, *([w.previous_secret] if keep_old and w.previous_secret else [])]


def deliveries(ctx: Ctx, webhook_id: str, limit: int, token: str | None) -> Page[DeliveryModel]:
    with ctx.uow() as u:
        find(ctx, u, webhook_id)
        return u.deliveries.page(webhook_id, limit, token, consistent=True)


# ------------------------------------------------------------------ fan-out (from the events stream)
def subscribed(w: WebhookModel, event: EventModel) -> bool:
    return (w.status == "enabled" and ("*" in w.events or event.type in w.events)
            and event.event_id > (w.since or ""))


def body_for(w: WebhookModel, event: EventModel) -> str:
    """The Event as the endpoint's owner may see it (a customer: operators by role only)."""
    out = events.render(event, customer=w.owner != OPS_OWNER)
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def fan_out(ctx: Ctx, items: Iterable[EventModel]) -> list[DeliveryModel]:
    """One pending delivery per subscribed endpoint of each event (its account's and the operators'),
    each created only if absent; answers those to queue: created now, or created by an earlier try of
    this stream batch and never attempted (its queue message may not have been sent)."""
    made: list[DeliveryModel] = []
    owners: dict[str, list[WebhookModel]] = {}
    with ctx.uow() as reads:
        def endpoints(owner: str) -> list[WebhookModel]:
            if owner not in owners:
                owners[owner] = reads.webhooks.of_owner(owner)
            return owners[owner]

        for event in items:
            targets = endpoints(OPS_OWNER) + (endpoints(event.account_id) if event.account_id else [])
            for w in targets:
                if not subscribed(w, event):
                    continue
                d = DeliveryModel(w.webhook_id, event.event_id, event_type=event.type, body=body_for(w, event),
                                  status="pending", attempts=0, created_at=ctx.now,
                                  due_shard=due_shard(w.webhook_id), next_attempt_at=ctx.now)
                try:
                    with ctx.uow() as u:
                        u.deliveries.add(d)
                        u.commit()
                except WriteConflict:  # made by an earlier delivery of this stream record
                    earlier = reads.deliveries.get(w.webhook_id, event.event_id)
                    if earlier is None or earlier.status != "pending" or int(earlier.attempts) > 0:
                        continue
                    d = earlier
                made.append(d)
    return made


# ------------------------------------------------------------------ attempts
@dataclass(frozen=True)
class Sender:
    """How an attempt reaches the endpoint (replaced in tests): the guard, the POST, the wall clock
    of the signature's `t`, the timeout."""

    check: Callable[[str], webhook_http.Target] | None = None  # None: the guard of the context's stage
    post: Callable[..., webhook_http.Answer] = webhook_http.post
    wall: Callable[[], float] | None = None
    timeout_s: float | None = None


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: 30 s doubling, at most 6 h (22 attempts in 3 days)."""
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, attempts - 1))


def attempt(ctx: Ctx, d: DeliveryModel, sender: Sender = Sender(), *, lease: bool = True,
            mark: Callable[[UnitOfWork, DeliveryModel], None] | None = None) -> DeliveryModel:
    """One attempt of a pending delivery: lease, check the URL again, POST signed, mark the outcome.
    WriteConflict when another deliverer holds it (the lease moved)."""
    with ctx.uow() as u:
        w = u.webhooks.get(d.webhook_id)
        if lease:
            u.deliveries.lease(d, ctx.now + LEASE)
    if w is None or w.status != "enabled":
        d.status, d.next_attempt_at, d.due_shard = "failed", None, None
        d.last_error = "the endpoint was deleted or disabled"
        _save(ctx, d)
        return d
    timeout = sender.timeout_s if sender.timeout_s is not None else ctx.settings.webhook_timeout_s
    t = int((sender.wall or time.time)())
    body = d.body.encode()
    headers = {"Imbill-Event-Id": d.delivery_id, "Imbill-Event-Type": d.event_type,
               "Imbill-Signature": webhook_http.signature(signing_secrets(w, ctx.now), t, body)}
    try:
        target = sender.check(w.url) if sender.check is not None else check_url(w.url, local_stage(ctx))
        answer = sender.post(target, body, headers, timeout)
    except webhook_http.Refused as err:
        answer = webhook_http.Answer(None, "", f"refused: {err.message}", 0.0)
    d.attempts = int(d.attempts) + 1
    d.last_attempt_at, d.last_status, d.last_response = ctx.now, answer.status, answer.body[:webhook_http.KEEP_BYTES]
    d.last_error = answer.error if answer.error else (None if answer.delivered(timeout) else
                                                       f"answered {answer.status} in {answer.elapsed_s:.1f} s")
    if answer.delivered(timeout):
        d.status, d.delivered_at, d.next_attempt_at, d.due_shard, d.last_error = \
            "delivered", ctx.now, None, None, None
    elif ctx.now - d.created_at >= GIVE_UP:
        d.status, d.next_attempt_at, d.due_shard = "failed", None, None
    else:
        d.next_attempt_at = ctx.now + backoff(int(d.attempts))
    (mark or _mark)(ctx.uow(), d)
    _endpoint_health(ctx, w, answer.delivered(timeout))
    return d


def _mark(u: UnitOfWork, d: DeliveryModel) -> None:
    with u:
        u.deliveries.put(d)
        u.commit()


def _save(ctx: Ctx, d: DeliveryModel) -> None:
    _mark(ctx.uow(), d)


def _endpoint_health(ctx: Ctx, w: WebhookModel, delivered: bool) -> None:
    """An endpoint failing for 3 days is disabled and its account notified (one transaction: the
    endpoint, the notification, the `webhook.disabled` event); a delivery clears the streak."""
    if delivered and w.failing_since is None:
        return
    if not delivered and w.failing_since is not None and ctx.now - w.failing_since < GIVE_UP:
        return
    notes: list[Any] = []
    try:
        with ctx.uow() as u:
            if delivered:
                w.failing_since = None
            elif w.failing_since is None:
                w.failing_since = ctx.now
            else:
                w.status = "disabled"
                account = u.accounts.get(w.owner) if w.owner != OPS_OWNER else None
                if account is not None:
                    subject, body = notice(ctx.catalog, "webhook_disabled", webhook_id=w.webhook_id, url=w.url,
                                           failing_for=duration(GIVE_UP.days, "day"), since=iso(w.failing_since))
                    notes = notifications.compose(account, "webhook_disabled", ctx.now, ref=w.webhook_id,
                                                  subject=subject, body=body)
                    notifications.enqueue(ctx, u, notes)
                events.emit(u, ctx, "webhook.disabled", account_id=account.account_id if account else None,
                            data=render(w))
            u.webhooks.save(w)
            u.commit()
    except WriteConflict:
        return  # another attempt changed the endpoint meanwhile: the next attempt decides again
    if notes:
        notifications.dispatch(ctx, notes, ctx.now)


def deliver_due(ctx: Ctx, sender: Sender = Sender(), limit: int = 100) -> dict[str, int]:
    """Attempt every pending delivery due by now (the local deliverer; deployed: a safety net)."""
    counts: dict[str, int] = {}
    with ctx.uow() as u:
        due = u.deliveries.due(ctx.now, limit)
    for d in due:
        try:
            outcome = attempt(ctx, d, sender).status
        except WriteConflict:
            outcome = "taken"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def retry(ctx: Ctx, webhook_id: str, delivery_id: str, sender: Sender = Sender()) -> DeliveryModel:
    """A manual retry: one attempt now, whatever the delivery's status (a failed one stays failed
    unless this attempt delivers it)."""
    with ctx.uow() as u:
        find(ctx, u, webhook_id)
        d = u.deliveries.get(webhook_id, delivery_id)
    if d is None:
        raise NotFound(f"delivery {delivery_id} not found")
    was = d.status
    out = attempt(ctx, d, sender, lease=False)
    if was != "pending" and out.status == "pending":  # no new back-off cycle for a finished delivery
        out.status, out.next_attempt_at, out.due_shard = was, None, None
        _save(ctx, out)
    return out
