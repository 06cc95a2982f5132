"""The outbox delivers at least once: SES for email, SNS for SMS, and the `notification-dispatch`
job for whatever the committing process did not send (it died after its commit, or SES/SNS refused)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib import bootstrap, config
from chalicelib.jobs import runner
from chalicelib.services import lifecycle, notifications
from chalicelib.store.dynamodb.due import earliest_due
from chalicelib.store.dynamodb.models import NotificationModel
from tests.composed import contexts
from tests.integration.test_jobs import seed

UTC_TZ = ZoneInfo("UTC")
WARN_AT = datetime(2026, 8, 18, 1, 0, tzinfo=UTC)  # E-2: a warning day
LEASE = notifications.LEASE


class Recorder:
    """A notifier that records what it sends, and refuses while `down` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.down = False

    def _send(self, channel: str, to: str) -> None:
        if self.down:
            raise ConnectionError("SES/SNS unreachable")
        self.sent.append((channel, to))

    def email(self, to: str, subject: str, body: str) -> None:
        self._send("email", to)

    def sms(self, to: str, body: str) -> None:
        self._send("sms", to)


@pytest.fixture
def recorder(store: None) -> Recorder:
    rec = Recorder()
    bootstrap.use(bootstrap.compose(notifier=rec))  # the store fixture composes afresh after the test
    return rec


def outbox() -> list[NotificationModel]:
    return sorted(NotificationModel.query("acme", consistent_read=True), key=lambda n: n.channel)


def dispatch(at: datetime) -> dict[str, int]:
    return runner.run_job("notification-dispatch", at, contexts(UTC_TZ))["summary"]


# ------------------------------------------------------------------ through moto's SES and SNS
def test_a_warning_goes_out_through_ses_and_sns_and_is_marked_sent(store, ddb_endpoint):
    if ddb_endpoint is not None:
        pytest.skip("SES and SNS are moto's")
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    seed(1, 1)
    assert runner.run_job("expiry-warnings", WARN_AT, contexts(UTC_TZ))["summary"]["warned"] == 1

    mails = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    texts = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())
    assert [(m.source, m.destinations["ToAddresses"]) for m in mails] == [(config.settings().email_from, ["a@x.test"])]
    assert "expires" in mails[0].subject
    assert [phone for phone, _ in texts] == ["+1555"]
    email, sms = outbox()
    assert (email.status, sms.status) == ("sent", "sent")
    assert email.sent_at == WARN_AT and email.send_due_at is None and int(email.attempts) == 1
    assert earliest_due(NotificationModel.send_due, "send_due_at") is None  # nothing left to send


def test_an_email_ses_refuses_is_retried_by_the_dispatcher_once_ses_accepts(store, ddb_endpoint, monkeypatch):
    if ddb_endpoint is not None:
        pytest.skip("SES and SNS are moto's")
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    monkeypatch.setenv("IMBILL_EMAIL_FROM", "billing@unverified.example.com")  # SES rejects it
    bootstrap.reset()
    seed(1, 1)

    assert runner.run_job("expiry-warnings", WARN_AT, contexts(UTC_TZ))["summary"]["warned"] == 1
    email, sms = outbox()
    assert sms.status == "sent"
    assert email.status == "pending" and int(email.attempts) == 1 and "MessageRejected" in email.last_error
    assert email.send_due_at == WARN_AT + 2 * LEASE  # backs off: lease × 2^attempts

    assert dispatch(WARN_AT + LEASE) == {"sent": 0, "retry": 0, "failed": 0}  # not due yet
    assert dispatch(WARN_AT + 2 * LEASE) == {"sent": 0, "retry": 1, "failed": 0}  # still refused
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="billing@unverified.example.com")
    assert dispatch(WARN_AT + 6 * LEASE) == {"sent": 1, "retry": 0, "failed": 0}
    assert dispatch(WARN_AT + 7 * LEASE) == {"sent": 0, "retry": 0, "failed": 0}  # never twice
    email, _ = outbox()
    assert (email.status, int(email.attempts), email.sent_at) == ("sent", 3, WARN_AT + 6 * LEASE)
    assert len(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages) == 1


# ------------------------------------------------------------------ on either backend
@pytest.mark.storage
def test_a_sender_that_dies_after_its_commit_loses_nothing(store, recorder, monkeypatch):
    seed(1, 1)
    with monkeypatch.context() as m:
        m.setattr(lifecycle.notifications, "dispatch", lambda items, now, store=None: {})  # the process died here
        assert runner.run_job("expiry-warnings", WARN_AT, contexts(UTC_TZ))["summary"]["warned"] == 1
    assert recorder.sent == [] and [n.status for n in outbox()] == ["pending", "pending"]
    assert runner.run_job("expiry-warnings", WARN_AT, contexts(UTC_TZ))["summary"]["warned"] == 0  # the job's rerun: no

    assert dispatch(WARN_AT + LEASE - timedelta(seconds=1)) == {"sent": 0, "retry": 0, "failed": 0}  # lease
    assert dispatch(WARN_AT + LEASE) == {"sent": 2, "retry": 0, "failed": 0}
    assert dispatch(WARN_AT + LEASE) == {"sent": 0, "retry": 0, "failed": 0}
    assert sorted(recorder.sent) == [("email", "a@x.test"), ("sms", "+1555")]
    assert [n.status for n in outbox()] == ["sent", "sent"]


@pytest.mark.storage
def test_delivery_gives_up_after_max_attempts_and_keeps_the_error(store, recorder):
    seed(1, 1)
    recorder.down = True
    runner.run_job("expiry-warnings", WARN_AT, contexts(UTC_TZ))
    runs = 1
    while (due := earliest_due(NotificationModel.send_due, "send_due_at")) is not None:
        dispatch(due)
        runs += 1
    assert runs == notifications.MAX_ATTEMPTS
    for n in outbox():
        assert (n.status, int(n.attempts), n.send_due_at) == ("failed", notifications.MAX_ATTEMPTS, None)
        assert n.last_error == "ConnectionError: SES/SNS unreachable"
    assert recorder.sent == []
    # each one that gave up: one `notification.failed` event, in the transaction of its mark
    from chalicelib.store.dynamodb.models import EventModel

    failed = [e for e in EventModel.scan() if e.type == "notification.failed"]
    assert sorted(json.loads(e.data)["notification_id"] for e in failed) == sorted(n.notification_id for n in outbox())
    assert {(e.actor_role, e.actor_sub, json.loads(e.data)["status"]) for e in failed} == \
        {("system", "notification-dispatch", "failed")}


@pytest.mark.storage
def test_the_test_clock_lists_the_dispatcher_only_when_it_did_something(store, recorder):
    seed(1, 1)
    start = WARN_AT - timedelta(minutes=1)
    quiet = runner.run_between(start, start + timedelta(hours=3), contexts(UTC_TZ)).jobs_run
    assert {r["job"] for r in quiet} == {"expiry-warnings"}  # only runs that acted are listed

    recorder.down = True  # the warning of the next day is refused, then SES/SNS come back
    nxt = WARN_AT + timedelta(days=1)
    runner.run_between(nxt - timedelta(minutes=1), nxt, contexts(UTC_TZ))
    recorder.down = False
    runs = runner.run_between(nxt, nxt + timedelta(hours=3), contexts(UTC_TZ)).jobs_run
    listed = [r for r in runs if r["job"] == "notification-dispatch"]
    assert listed == [{"job": "notification-dispatch", "at": "2026-08-19T01:45:00Z",
                       "summary": {"sent": 2, "retry": 0, "failed": 0}}]


@pytest.mark.storage
def test_a_stale_or_deleted_index_copy_is_neither_sent_nor_written_back(store, recorder, monkeypatch):
    seed(1, 1)
    with monkeypatch.context() as m:
        m.setattr(lifecycle.notifications, "dispatch", lambda items, now, store=None: {})  # left pending
        runner.run_job("expiry-warnings", WARN_AT, contexts(UTC_TZ))
    email, sms = outbox()
    stale_email, stale_sms = outbox()  # what a lagging index would still show
    at = WARN_AT + LEASE
    uow = bootstrap.current().uow
    assert notifications.claim(email, at, uow)  # claimed: moved one lease on
    assert not notifications.claim(stale_email, at, uow)  # the index copy is stale now
    sms.delete()
    assert not notifications.claim(stale_sms, at, uow)  # deleted (a reclamation): nothing comes back
    assert [n.channel for n in outbox()] == ["email"] and recorder.sent == []
    assert dispatch(at + LEASE) == {"sent": 1, "retry": 0, "failed": 0}
    assert recorder.sent == [("email", "a@x.test")]
