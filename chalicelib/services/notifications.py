"""Notifications: recorded in the outbox inside the deciding transaction, sent after it commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.domain.calendar import iso
from chalicelib.notify import notifier
from chalicelib.services.context import Ctx
from chalicelib.store.models import AccountModel, NotificationModel
from chalicelib.store.paging import Page, page

CHANNELS = ("email", "sms")


def compose(
    acct: AccountModel, kind: str, event_at: datetime, at: datetime, subject: str, body: str,
    sdkappid: int | None = None,
) -> list[NotificationModel]:
    """One notification per channel; the id (event instant, kind, app, channel) is the dedupe key."""
    stamp = event_at.strftime("%Y%m%dT%H%M%SZ")
    return [
        NotificationModel(
            acct.account_id,
            f"{stamp}#{kind}#{sdkappid if sdkappid is not None else '-'}#{channel}",
            at=at,
            kind=kind,
            channel=channel,
            to=acct.email if channel == "email" else acct.phone,
            sdkappid=sdkappid,
            subject=subject,
            body=body,
        )
        for channel in CHANNELS
    ]


def record(tx: TransactWrite, items: list[NotificationModel]) -> None:
    for n in items:
        tx.save(n, condition=NotificationModel.notification_id.does_not_exist())


def dispatch(items: list[NotificationModel]) -> None:
    """Send what was just recorded (after the commit that recorded it)."""
    out = notifier()
    for n in items:
        if n.channel == "email":
            out.email(n.to, n.subject, n.body)
        else:
            out.sms(n.to, f"{n.subject}: {n.body}")


def view(n: NotificationModel) -> dict[str, Any]:
    return {
        "notification_id": n.notification_id,
        "at": iso(n.at),
        "kind": n.kind,
        "channel": n.channel,
        "to": n.to,
        "sdkappid": int(n.sdkappid) if n.sdkappid is not None else None,
        "subject": n.subject,
        "body": n.body,
    }


def list_notifications(ctx: Ctx, account_id: str, limit: int, token: str | None) -> Page:
    ctx.principal.check_account(account_id)
    return page(NotificationModel.query, account_id, view, limit, token)


def delete_for_app(sdkappid: int) -> int:
    """Reclamation: every notification of the app goes (batched deletes)."""
    items = list(NotificationModel.by_app.query(sdkappid))
    with NotificationModel.batch_write() as batch:
        for n in items:
            batch.delete(n)
    return len(items)
