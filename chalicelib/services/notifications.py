"""Notifications: recorded in the outbox inside the deciding transaction, sent after it commits.

Delivery is at least once. A record is written `pending` with `send_due_at` a short lease ahead;
the committing code sends it at once and marks it `sent` (one BatchWriteItem; inside a job page,
`marks_batched`, one BatchWriteItem per 25 marks of the page). If that process dies between its
commit and the mark, or SES/SNS refuses, the record stays in the sparse `send_due` index and the
`notification-dispatch` job sends it later, backing off per attempt, until it is sent or gives up
after MAX_ATTEMPTS (`failed`, with the last error kept). A notifier whose sending is only the
record (`records_only`: the local one) has nothing to retry: the record is written `sent` in the
deciding commit and no mark follows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from chalicelib import shapes
from chalicelib.domain import contacts
from chalicelib.domain.app import Reclaimed
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.services import events
from chalicelib.services.context import Ctx
from chalicelib.store.dynamodb.models import AccountModel, NotificationModel, due_shard
from chalicelib.store.port import Page, UnitOfWork, WriteConflict

LEASE = timedelta(minutes=5)  # the committing process's head start before the dispatcher may send
MAX_ATTEMPTS = 12
MAX_BACKOFF = timedelta(hours=6)
DISPATCHER = "notification-dispatch"  # the job whose attempts give up (the actor of `notification.failed`)

MARKS_FLUSH = 100  # marks held by a page before they are written (4 BatchWriteItem calls)

log = logging.getLogger("imbill.notify")
_page_marks: ContextVar[list[tuple[Callable[[], UnitOfWork], list[NotificationModel]]] | None] = ContextVar(
    "notification_marks", default=None)


def compose(
    acct: AccountModel, kind: str, at: datetime, subject: str, body: str,
    sdkappid: int | None = None, ref: str | None = None,
) -> list[NotificationModel]:
    """One notification per recipient and channel (billing-rules 7a: the account's own contact, then
    each contact subscribed to `kind`). The id (instant, kind, app or `ref`, channel, and a further
    contact's id) is the dedupe key, and it sorts the account's outbox oldest first."""
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    about = ref if ref is not None else (sdkappid if sdkappid is not None else "-")
    own, others = contacts.load(acct.contacts)
    return [
        NotificationModel(
            acct.account_id,
            f"{stamp}#{kind}#{about}#{r.channel}" + ("" if r.contact_id == contacts.ACCOUNT else f"#{r.contact_id}"),
            at=at,
            kind=kind,
            channel=r.channel,
            to=r.to,
            sdkappid=sdkappid,
            subject=subject,
            body=body,
            status="pending",
            due_shard=due_shard(acct.account_id),
            send_due_at=at + LEASE,
            contact_id=r.contact_id,
        )
        for r in contacts.recipients(kind, acct.email, acct.phone, own, others)
    ]


def records_only(ctx: Ctx) -> bool:
    """Whether the composition's notifier only records (the outbox record is the delivery)."""
    return bool(getattr(ctx.notifier(), "records_only", False))


def enqueue(ctx: Ctx, uow: UnitOfWork, items: list[NotificationModel]) -> None:
    """Add the notifications to the deciding commit (each one only if its id is new); with a
    records-only notifier they are written `sent` there (nothing to retry, no mark after)."""
    direct = records_only(ctx)
    for n in items:
        if direct:
            n.status, n.send_due_at, n.sent_at, n.attempts = "sent", None, n.at, 1
        uow.notifications.add(n)


@contextmanager
def marks_batched() -> Iterator[None]:
    """Inside, the delivery marks of `dispatch` are held and written together (BatchWriteItem, 25 a
    request) every MARKS_FLUSH marks and on exit, also when the block raises: one job page's marks
    cost ~0.04 requests a notification instead of one request per item. A process that dies holding
    marks leaves those notifications pending: the dispatcher sends them again (at least once)."""
    held: list[tuple[Callable[[], UnitOfWork], list[NotificationModel]]] = []
    token = _page_marks.set(held)
    try:
        yield
    finally:
        _page_marks.reset(token)
        _write_marks(held)


def _write_marks(held: list[tuple[Callable[[], UnitOfWork], list[NotificationModel]]]) -> None:
    if not held:
        return
    items = [n for _, batch in held for n in batch]
    try:
        with held[-1][0]() as marks:
            marks.notifications.mark(items)
    except Exception as err:  # noqa: BLE001 - the move is committed; the dispatcher resends (at least once)
        log.warning("delivery marks of %d notification(s) not written: %s", len(items), err)
    held.clear()


def claim(n: NotificationModel, now: datetime, store: Callable[[], UnitOfWork]) -> bool:
    """The dispatcher's claim on a pending notification it found in the index: its retry time moves
    one lease on, only if it is still the one the index copy shows. A copy that is stale (sent,
    rescheduled or claimed meanwhile) or of a deleted notification claims nothing, so it is neither
    sent twice nor written back."""
    with store() as u:
        try:
            u.notifications.lease(n, now + LEASE)
        except WriteConflict:
            return False
    return True


def dispatch_due(ctx: Ctx, n: NotificationModel, now: datetime) -> dict[str, int]:
    """The dispatch job's step on one notification the index lists: claim it, then send it. A lost
    claim is a write conflict, so the job's step runner reads the notification again (`reload`)
    and decides afresh: not due any more (sent, or claimed by another run) -> nothing."""
    if n.send_due_at is None or n.send_due_at > now:
        return {}
    with ctx.uow() as u:
        u.notifications.lease(n, now + LEASE)
    return dispatch(ctx, [n], now)


def reload(ctx: Ctx, n: NotificationModel) -> NotificationModel:
    """The notification as stored now; one deleted meanwhile (a reclamation) comes back not due."""
    with ctx.uow() as u:
        found = u.notifications.get(n.account_id, n.notification_id)
    return found if found is not None else NotificationModel(n.account_id, n.notification_id)


def dispatch(ctx: Ctx, items: list[NotificationModel], now: datetime) -> dict[str, int]:
    """Send recorded notifications (after the commit that recorded them) with the context's notifier
    and mark each one sent, or due again later; the marks are one BatchWriteItem per 25 (through the
    context's unit of work). Answers counts by outcome."""
    store = ctx.uow
    out = ctx.notifier()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    marked = [n for n in items if n.status != "sent"]  # `sent` in its commit: a records-only notifier
    for n in items:
        if n.status == "sent":
            _send(out, n)
            counts["sent"] += 1
            continue
        try:
            _send(out, n)
        except Exception as err:  # noqa: BLE001 - any refusal of SES/SNS leaves the record for a retry
            n.attempts = int(n.attempts or 0) + 1
            n.last_error = f"{type(err).__name__}: {err}"[:500]
            if n.attempts >= MAX_ATTEMPTS:
                n.status, n.send_due_at = "failed", None
            else:
                n.send_due_at = now + min(MAX_BACKOFF, LEASE * 2 ** n.attempts)
            counts["failed" if n.status == "failed" else "retry"] += 1
            log.warning("notification %s/%s not sent (attempt %d): %s",
                        n.account_id, n.notification_id, n.attempts, n.last_error)
            continue
        n.status, n.send_due_at, n.sent_at = "sent", None, now
        n.attempts = int(n.attempts or 0) + 1
        counts["sent"] += 1
    gave_up = [n for n in marked if n.status == "failed"]
    marked = [n for n in marked if n.status != "failed"]
    for n in gave_up:
        _given_up(ctx.job(DISPATCHER, now), n)
    if marked:
        held = _page_marks.get()
        if held is None:
            _write_marks([(store, marked)])
        else:
            held.append((store, marked))
            if sum(len(batch) for _, batch in held) >= MARKS_FLUSH:
                _write_marks(held)
    return counts


def _given_up(ctx: Ctx, n: NotificationModel) -> None:
    """A notification that ran out of attempts: its `failed` mark and the `notification.failed` event
    in one transaction (the dispatcher's change; a lost write leaves it due, so it is decided again)."""
    try:
        with ctx.uow() as u:
            u.notifications.put(n)
            events.emit(u, ctx, "notification.failed", account_id=n.account_id,
                        sdkappid=None if n.sdkappid is None else int(n.sdkappid),
                        data=state_of(n))
            u.commit()
    except Exception as err:  # noqa: BLE001 - as a mark: the record stays due and is decided again
        log.warning("failed mark of notification %s/%s not written: %s", n.account_id, n.notification_id, err)


def retry_failed(ctx: Ctx, account_id: str, notification_id: str) -> NotificationModel:
    """An operator's retry of a notification that gave up (`failed`): pending again with a fresh
    count of attempts, due now, then sent at once as after any commit (if SES/SNS refuses again,
    the dispatcher retries it with back-off). A notification that is not `failed` is a 409."""
    ctx.principal.require("operator")
    with ctx.uow() as u:
        n = u.notifications.get(account_id, notification_id)
        if n is None:
            raise NotFound(f"notification {notification_id} of account {account_id} not found")
        if n.status != "failed":
            raise Conflict(f"notification {notification_id} is {n.status or 'sent'}, not failed: nothing to retry")
        n.status, n.attempts, n.last_error = "pending", 0, None
        n.send_due_at, n.due_shard = ctx.now + LEASE, due_shard(account_id)
        u.notifications.put(n)  # failed ones are in no due index: no dispatcher holds it
        events.emit(u, ctx, "notification.retried", account_id=account_id, sdkappid=None if n.sdkappid is None
                    else int(n.sdkappid), data=state_of(n))
        u.commit()
    dispatch(ctx, [n], ctx.now)
    return n


def state_of(n: NotificationModel) -> dict[str, Any]:
    """A notification with its delivery state (the data of its events)."""
    return {**shapes.notification(n), "account_id": n.account_id, "status": n.status, "attempts": int(n.attempts),
            "last_error": n.last_error}


def _send(out: Any, n: NotificationModel) -> None:
    if n.channel == "email":
        out.email(n.to, n.subject, n.body)
    else:
        out.sms(n.to, f"{n.subject}: {n.body}")


def list_notifications(ctx: Ctx, account_id: str, limit: int, token: str | None) -> Page[NotificationModel]:
    """One page of the account's notifications, oldest first (the API renders them)."""
    ctx.principal.check_account(account_id)
    with ctx.uow() as u:
        return u.notifications.page(account_id, limit, token)


def delete_for_app(ctx: Ctx, sdkappid: int) -> int:
    """Reclamation: every notification of the app goes (batched deletes), but the notice that it
    was reclaimed."""
    with ctx.uow() as u:
        return u.notifications.delete_of_app(sdkappid, keep=lambda n: n.kind == Reclaimed.kind)
