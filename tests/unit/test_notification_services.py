"""Listing an account's notifications on the in-memory unit of work: oldest first, in pages, only
to its own customer. The same through the API and DynamoDB is in tests/integration/test_notification_delivery.py."""

from __future__ import annotations

import json

import pytest

from chalicelib import shapes
from chalicelib.domain.bills import Line
from chalicelib.domain.errors import Conflict, Forbidden, NotFound
from chalicelib.services import billing, notifications
from chalicelib.services.context import Principal
from chalicelib.store.dynamodb.models import NotificationModel
from chalicelib.store.port import WriteConflict
from tests.fakes.uow import FakeUnitOfWork
from tests.unit.test_purchase_services import at, ctx_at, new_app


def test_notifications_are_listed_oldest_first_in_pages_to_their_own_customer(tables, notifier):
    sid = new_app(tables, at("2026-03-01T00:00:00"), cash=1000)
    billing.post_bill(ctx_at(tables, at("2026-04-01T02:00:00")), "acme", "monthly", "2026-03",
                      [Line(sid, "mau_overage", 2000, "0.015", 3000)])  # 10.00 - 30.00: arrears too
    own = ctx_at(tables, at("2026-04-01T03:00:00"), Principal("customer", "acme"))
    first = notifications.list_notifications(own, "acme", 3, None)
    assert first.next_token is not None
    rest = notifications.list_notifications(own, "acme", 3, first.next_token)
    assert rest.next_token is None
    listed = [shapes.notification(n) for n in first.items + rest.items]
    assert [(n["kind"], n["channel"], n["status"]) for n in listed] == [
        ("arrears", "email", "sent"), ("arrears", "sms", "sent"), ("bill", "email", "sent"), ("bill", "sms", "sent")]
    assert listed[2]["subject"] == "Monthly bill 2026-03: 30.00" and listed[2]["at"] == "2026-04-01T02:00:00Z"
    with pytest.raises(NotFound):
        notifications.list_notifications(ctx_at(tables, at("2026-04-01T03:00:00"), Principal("customer", "other")),
                                         "acme", 10, None)


def test_the_dispatcher_claims_a_due_notification_sends_it_once_and_marks_it(tables, notifier):
    now = at("2026-04-01T03:00:00")
    note = NotificationModel("acme", "20260401T020000Z#bill#-#email", at=at("2026-04-01T02:00:00"), kind="bill",
                             channel="email", to="a@x.test", subject="Monthly bill", body="b", status="pending",
                             due_shard="0", send_due_at=at("2026-04-01T02:05:00"))
    with FakeUnitOfWork(tables) as u:
        u.notifications.add(note)
        u.commit()
    listed = NotificationModel.from_raw_data(note.serialize())  # the index copy a second run also lists
    assert notifications.dispatch_due(ctx_at(tables, now), note, now) == {"sent": 1, "retry": 0, "failed": 0}
    assert notifier.sent == [("email", "a@x.test", "Monthly bill")]
    with pytest.raises(WriteConflict):  # the stale copy claims nothing: the step runner reloads it
        notifications.dispatch_due(ctx_at(tables, now), listed, now)
    again = notifications.reload(ctx_at(tables, now), listed)
    assert (again.status, again.send_due_at, again.sent_at) == ("sent", None, now)
    assert notifications.dispatch_due(ctx_at(tables, now), again, now) == {}  # not due any more
    assert len(notifier.sent) == 1
    assert notifications.reload(ctx_at(tables, now), NotificationModel("acme", "gone")).send_due_at is None


def test_an_operator_retries_a_failed_notification_which_is_sent_at_once(tables, notifier):
    now = at("2026-04-02T00:00:00")
    note = NotificationModel("acme", "20260401T020000Z#bill#-#sms", at=at("2026-04-01T02:00:00"), kind="bill",
                             channel="sms", to="+15550100", subject="Monthly bill", body="b", status="failed",
                             attempts=notifications.MAX_ATTEMPTS, last_error="Throttled: no")
    with FakeUnitOfWork(tables) as u:
        u.notifications.add(note)
        u.commit()
    with pytest.raises(Forbidden):
        notifications.retry_failed(ctx_at(tables, now, Principal("customer", "acme")), "acme", note.notification_id)
    sent = notifications.retry_failed(ctx_at(tables, now), "acme", note.notification_id)
    assert (sent.status, int(sent.attempts), sent.last_error, sent.sent_at) == ("sent", 1, None, now)
    assert notifier.sent == [("sms", "+15550100", "Monthly bill: b")]
    assert notifications.reload(ctx_at(tables, now), note).status == "sent"
    with pytest.raises(Conflict):  # sent: nothing to retry
        notifications.retry_failed(ctx_at(tables, now), "acme", note.notification_id)
    with pytest.raises(NotFound):
        notifications.retry_failed(ctx_at(tables, now), "acme", "nope")
    # one event, of the retry that committed (none for the refused ones)
    from chalicelib.store.dynamodb.models import EventModel

    (event,) = [EventModel.from_raw_data(raw) for raw in tables.table(EventModel).values()]
    assert (event.type, event.account_id, json.loads(event.data)["status"]) == ("notification.retried", "acme",
                                                                               "pending")


def test_sms_carry_the_configured_sender_id_and_none_without_one() -> None:
    """IMBILL_SMS_SENDER_ID (the template's SmsSenderId) is the SMS's sender where allowed."""
    from chalicelib.notify import AwsNotifier

    sent: list[dict[str, object]] = []

    class Sns:
        def publish(self, **kwargs: object) -> None:
            sent.append(kwargs)

    for sender_id in ("IMBILL", None):
        notifier = AwsNotifier("billing@example.com", "us-east-1", sender_id)
        notifier.sns = Sns()
        notifier.sms("+15550100", "hello")
    assert sent[0]["MessageAttributes"] == {"AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "IMBILL"}}
    assert sent[1]["MessageAttributes"] == {}
    assert [s["PhoneNumber"] for s in sent] == ["+15550100", "+15550100"]
