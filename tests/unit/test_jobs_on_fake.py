"""Every job runs on the in-memory unit of work (issue 17, item 2): what is due is read through the
port's due repository, each job's `next_due` hint too, and its steps store through the same unit of
work. The jobs on DynamoDB (moto, DynamoDB Local) are in tests/integration/test_jobs.py and the scenarios."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import bootstrap
from chalicelib.jobs import due
from chalicelib.jobs.registry import Job, declared
from chalicelib.notify import LocalNotifier
from chalicelib.services import usage
from chalicelib.services.context import Contexts, Ctx
from chalicelib.services.renewals import Item
from chalicelib.store.dynamodb.models import NotificationModel
from tests.fakes.uow import FakeStore, FakeUnitOfWork
from tests.unit.test_billing_services import push_app
from tests.unit.test_lifecycle_services import app_of, standard_app
from tests.unit.test_renewal_services import customer, interrupted_batch, setup
from tests.unit.test_renewal_services import new_app as renewal_app


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class FlakyNotifier(LocalNotifier):
    """Sends nothing while `down` (as SES refusing), and is not records-only: a refusal stays pending."""

    records_only = False

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def email(self, to: str, subject: str, body: str) -> None:
        if self.down:
            raise RuntimeError("SES is down")
        super().email(to, subject, body)

    def sms(self, to: str, body: str) -> None:
        if self.down:
            raise RuntimeError("SNS is down")
        super().sms(to, body)


@pytest.fixture
def sent(tables: FakeStore) -> FlakyNotifier:
    return FlakyNotifier()


@pytest.fixture
def contexts(tables: FakeStore, sent: FlakyNotifier) -> Iterator[Contexts]:
    """The composition of the tests' in-memory tables (and the same as the process's, for the helpers)."""
    deps = bootstrap.use(bootstrap.compose(notifier=sent, uow=tables.uow))
    yield deps.contexts
    bootstrap.reset()


def job(name: str) -> Job:
    return declared()[name]


def run(contexts: Contexts, name: str, when: str) -> tuple[dict[str, int], int]:
    return job(name).execute(contexts.job(name, at(when)), at(when))


def hint(contexts: Contexts, name: str, when: str) -> datetime | None:
    next_due = job(name).next_due
    assert next_due is not None
    return next_due(contexts.at(at(when)))


def test_every_job_is_declared_by_its_module_in_contract_order() -> None:
    assert list(declared()) == ["arrears-enforcement", "expiry-enforcement", "expiry-warnings", "monthly-settlement",
                                "notification-dispatch", "push-quota-billing", "reclamation", "renewal-batches"]


def test_an_app_is_warned_stopped_and_reclaimed_by_the_jobs_on_the_fake(tables, contexts, sent):
    sid = standard_app(tables, 39_900)  # Standard bought 2026-08-20T10:00Z for a month: expires 09-20T10:00Z
    assert hint(contexts, "expiry-warnings", "2026-08-21T00:00:00") == at("2026-09-14T00:00:00")  # E-6
    assert run(contexts, "expiry-warnings", "2026-09-13T01:00:00") == ({"warned": 0, "skipped": 0}, 0)
    assert run(contexts, "expiry-warnings", "2026-09-14T01:00:00") == ({"warned": 1, "skipped": 0}, 0)
    assert [kind for kind, _, _ in sent.sent] == ["email", "sms"]
    assert run(contexts, "expiry-warnings", "2026-09-14T01:00:00") == ({"warned": 0, "skipped": 0}, 0)  # a rerun
    assert hint(contexts, "expiry-warnings", "2026-09-14T01:00:00") == at("2026-09-15T00:00:00")

    assert hint(contexts, "expiry-enforcement", "2026-09-14T01:00:00") == at("2026-09-21T10:00:00")  # E + 24 h
    assert run(contexts, "expiry-enforcement", "2026-09-21T10:05:00") == (
        {"renewed": 0, "renew_failed": 0, "given_up": 0, "stopped": 1, "skipped": 0}, 0)
    assert app_of(tables, sid).status == "stopped"
    assert hint(contexts, "expiry-enforcement", "2026-09-21T10:05:00") is None

    assert hint(contexts, "reclamation", "2026-09-21T10:05:00") == at("2026-12-20T10:05:00")  # 90 days on
    assert run(contexts, "reclamation", "2026-12-20T03:00:00") == ({"reclaimed": 0, "skipped": 0}, 0)
    assert run(contexts, "reclamation", "2026-12-21T03:00:00") == ({"reclaimed": 1, "skipped": 0}, 0)
    assert app_of(tables, sid).status == "reclaimed"
    assert hint(contexts, "reclamation", "2026-12-21T03:00:00") is None


def test_a_notification_left_pending_is_sent_by_the_dispatcher_on_the_fake(tables, contexts, sent):
    sent.down = True
    standard_app(tables, 39_900)
    assert run(contexts, "expiry-warnings", "2026-09-14T01:00:00") == ({"warned": 1, "skipped": 0}, 0)
    pending = FakeUnitOfWork(tables).notifications.page("acme", 100, None).items
    assert [(n.kind, n.status, int(n.attempts)) for n in pending] == [("expiry_warning", "pending", 1)] * 2
    assert hint(contexts, "notification-dispatch", "2026-09-14T01:00:00") == at("2026-09-14T01:10:00")  # 2 leases
    sent.down = False
    assert run(contexts, "notification-dispatch", "2026-09-14T01:09:00") == ({"sent": 0, "retry": 0, "failed": 0}, 0)
    assert run(contexts, "notification-dispatch", "2026-09-14T01:45:00") == ({"sent": 2, "retry": 0, "failed": 0}, 0)
    assert [n.status for n in FakeUnitOfWork(tables).notifications.page("acme", 100, None).items] == ["sent"] * 2
    assert hint(contexts, "notification-dispatch", "2026-09-14T03:45:00") is None


def test_push_bills_put_an_account_in_arrears_and_the_arrears_job_stops_its_apps_on_the_fake(
        tables, contexts, sent):
    sid = push_app(tables, 100000, 150)  # 701.00 after the plugin; 50 calls above 100 a day at 10.00
    assert hint(contexts, "push-quota-billing", "2026-03-11T09:00:00") == at("2026-03-12T00:00:00")  # bills 03-11
    assert run(contexts, "push-quota-billing", "2026-03-12T00:30:00") == (
        {"billed": 1, "skipped": 0, "no_charge": 0, "released": 0}, 0)
    assert run(contexts, "push-quota-billing", "2026-03-13T00:30:00") == (
        {"billed": 1, "skipped": 0, "no_charge": 0, "released": 0}, 0)  # -299.00: arrears
    listed = due.due("arrears-enforcement", contexts.at(at("2026-03-13T01:00:00")), at("2026-03-15T00:00:00"), 10)
    assert listed == [{"account_id": "acme", "job": "arrears-enforcement", "due_at": "2026-03-14T00:30:00Z",
                       "reason": "stop apps: 24 h in arrears"}]
    assert hint(contexts, "arrears-enforcement", "2026-03-13T01:00:00") == at("2026-03-14T00:30:00")
    assert run(contexts, "arrears-enforcement", "2026-03-14T00:15:00") == ({"accounts": 0, "stopped": 0}, 0)
    assert run(contexts, "arrears-enforcement", "2026-03-14T01:15:00") == ({"accounts": 1, "stopped": 1}, 0)
    assert app_of(tables, sid).status == "stopped"
    assert hint(contexts, "arrears-enforcement", "2026-03-14T01:15:00") is None


def test_the_month_is_settled_by_the_settlement_job_on_the_fake(tables, contexts, sent):
    sid = standard_app(tables, 39_900)
    usage.report_logins(contexts.at(at("2026-08-25T00:00:00")), sid, ["u1", "u2", "u3"])
    assert hint(contexts, "monthly-settlement", "2026-08-25T00:00:00") == at("2026-09-01T02:00:00")
    assert [i["account_id"] for i in due.due("monthly-settlement", contexts.at(at("2026-08-31T00:00:00")),
                                            at("2026-09-02T00:00:00"), 10)] == ["acme"]
    assert run(contexts, "monthly-settlement", "2026-09-01T02:00:00") == (
        {"billed": 0, "skipped": 0, "no_charge": 1}, 0)  # 3 users: within Standard's allowance
    assert run(contexts, "monthly-settlement", "2026-09-02T02:00:00") == (
        {"billed": 0, "skipped": 0, "no_charge": 1}, 0)  # nothing to bill: decided again, posts nothing
    assert run(contexts, "monthly-settlement", "2026-09-04T02:00:00") == (
        {"billed": 0, "skipped": 0, "no_charge": 0}, 0)  # outside the window: nothing read


def test_a_batch_renewal_left_with_items_pending_is_finished_by_its_job_on_the_fake(tables, contexts, sent):
    ctx: Ctx = setup(tables, 39_900 * 6)
    sids = [renewal_app(ctx, name=f"a{i}") for i in range(3)]
    interrupted_batch(customer(tables, "2026-03-20T00:00:00"), [Item(s, "standard", 1) for s in sids])
    assert hint(contexts, "renewal-batches", "2026-03-20T00:00:00") == at("2026-03-20T00:00:00")
    (listed,) = due.due("renewal-batches", contexts.at(at("2026-03-20T00:00:00")), at("2026-03-21T00:00:00"), 10)
    assert (listed["job"], listed["due_at"]) == ("renewal-batches", "2026-03-20T00:00:00Z")
    assert listed["reason"].endswith("(1 of 3 items pending)"), listed  # interrupted after two items
    assert run(contexts, "renewal-batches", "2026-03-20T00:25:00") == ({"finished": 1, "skipped": 0}, 0)
    assert [app_of(tables, s).expires_at.month for s in sids] == [5, 5, 5]
    assert hint(contexts, "renewal-batches", "2026-03-20T00:25:00") is None
    assert due.due("renewal-batches", contexts.at(at("2026-03-20T00:00:00")), at("2026-03-21T00:00:00"), 10) == []


def test_the_due_pages_of_the_fake_follow_their_cursor_as_a_query_does(tables, contexts):
    """A page of at most `limit` items has a cursor after a full page; the next page starts after it."""
    for i in range(5):
        with FakeUnitOfWork(tables) as u:
            u.notifications.add(NotificationModel("acme", f"n{i}", at=at("2026-03-01T00:00:00"), kind="bill",
                                                  channel="email", to="a@x.test", subject="s", body="b",
                                                  status="pending", due_shard="0",
                                                  send_due_at=at("2026-03-01T00:00:00") + timedelta(minutes=i)))
            u.commit()
    index = job("notification-dispatch")
    assert index.work is not None
    ctx = contexts.at(at("2026-03-01T00:03:00"))
    first = index.work.items(ctx, ctx.now, 0, None, 2)
    assert [n.notification_id for n in first] == ["n0", "n1"] and first.cursor is not None
    rest = index.work.items(ctx, ctx.now, 0, first.cursor, 2)
    assert [n.notification_id for n in rest] == ["n2", "n3"] and rest.cursor is not None
    last = index.work.items(ctx, ctx.now, 0, rest.cursor, 2)
    assert [n.notification_id for n in last] == [] and last.cursor is None
    assert [n.notification_id for n in index.work.items(ctx, ctx.now, 1, None, None)] == []  # another shard
