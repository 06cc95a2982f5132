"""Every job survives write conflicts on its items (issue 7, item 1): the shared step runner re-reads
a conflicting item and decides again; an item that keeps conflicting is counted in `failed`, the
rest of the run goes on, and the item is still due at the next run. Three identical runs at once
act on each item exactly once.

A "concurrent writer" is injected at the store's request layer: right before a job's write that
touches the target item is sent, another writer changes that item (its version, or a notification's
retry time), so the job's conditions fail exactly as they would against a real racing request.

Marked `storage`: runs on moto in-process (requests made atomic, as in test_concurrency) and on
DynamoDB Local."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pynamodb.connection import Connection

from chalicelib import bootstrap
from chalicelib.jobs import runner
from chalicelib.services import notifications
from chalicelib.services.apps import refresh_dues
from chalicelib.store.dynamodb.models import (
    AccountModel,
    AppModel,
    LedgerModel,
    NotificationModel,
    QuotaChangeMap,
    due_shard,
)
from chalicelib.store.dynamodb.usage_models import BillModel
from tests.composed import contexts, make_ctx
from tests.integration import test_settlement
from tests.integration.test_concurrency import atomic_moto_requests, run_together  # noqa: F401 (fixture)

pytestmark = pytest.mark.storage
UTC_TZ = ZoneInfo("UTC")
N = 3  # due items per job, each on its own account
E = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)  # the apps' expiry
BASE = 1_700_000_000
ARREARS_DUE = datetime(2026, 9, 1, 0, 30, tzinfo=UTC)
PUSH_DAY = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Target:
    """An item a concurrent writer changes: (model, hash key, range key)."""

    model: Any
    hash_key: str | int
    range_key: str | None = None

    def matches(self, table: str, key: dict[str, Any]) -> bool:
        if table != self.model.Meta.table_name:
            return False
        wanted = {self.model._hash_key_attribute().attr_name: self.hash_key}
        if self.range_key is not None:
            wanted[self.model._range_key_attribute().attr_name] = self.range_key
        return all(name in key and next(iter(key[name].values())) == str(v) for name, v in wanted.items())

    def change(self) -> None:
        """What another writer does to the item: any write moves its version (an app, an account);
        a notification gets rescheduled (still due) by someone else."""
        if self.model is NotificationModel:
            n = NotificationModel.get(self.hash_key, self.range_key, consistent_read=True)
            if n.send_due_at is not None:
                n.update(actions=[NotificationModel.send_due_at.set(n.send_due_at - timedelta(seconds=1))])
            return
        self.model(self.hash_key).update(actions=[self.model.version.add(1)])


def _written(op: str, kwargs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if op == "TransactWriteItems":
        for entry in kwargs["TransactItems"]:
            (body,) = entry.values()
            yield body["TableName"], body.get("Key") or body.get("Item") or {}
    elif op in ("PutItem", "UpdateItem", "DeleteItem"):
        yield kwargs["TableName"], kwargs.get("Key") or kwargs.get("Item") or {}


@contextmanager
def concurrent_writer(monkeypatch: pytest.MonkeyPatch, target: Target, times: int | None) -> Iterator[Counter]:
    """Before each of the first `times` (None: every) writes of the target, another writer changes it."""
    real = Connection.dispatch
    done: Counter[str] = Counter()
    inside = threading.local()

    def dispatch(self: Connection, op: str, kwargs: dict[str, Any]) -> Any:
        if (not getattr(inside, "on", False) and (times is None or done["changes"] < times)
                and any(target.matches(t, k) for t, k in _written(op, kwargs))):
            inside.on = True
            try:
                target.change()
                done["changes"] += 1
            finally:
                inside.on = False
        return real(self, op, kwargs)

    with monkeypatch.context() as m:
        m.setattr(Connection, "dispatch", dispatch)
        yield done


# ------------------------------------------------------------------ seeds: N due items per job
def seed_account(i: int, **kw: Any) -> str:
    account_id = f"acct{i}"
    AccountModel(account_id, email=f"{account_id}@x.test", phone="+1555", due_shard=due_shard(account_id),
                 created_at=E - timedelta(days=200), apps_count=1, **kw).save()
    return account_id


def seed_app(i: int, account_id: str, *, expires_at: datetime = E, status: str = "enabled", **kw: Any) -> int:
    sid = BASE + i
    app = AppModel(sid, account_id=account_id, name=f"a{i}", region="us", edition="standard", status=status,
                   created_at=E - timedelta(days=200), expires_at=expires_at, due_shard=due_shard(sid),
                   had_paid=True, **kw)
    if status == "stopped":
        app.stop_reason, app.stopped_at = "expired", expires_at
    refresh_dues(make_ctx(now=E - timedelta(days=40), tz=UTC_TZ), app)
    app.save()
    return sid


def seed_apps(status: str = "enabled") -> list[Target]:
    return [Target(AppModel, seed_app(i, seed_account(i), status=status)) for i in range(N)]


def seed_arrears() -> list[Target]:
    out = []
    for i in range(N):
        account_id = seed_account(i, cash=-100, status="arrears", arrears_since=ARREARS_DUE - timedelta(hours=24),
                              arrears_due_at=ARREARS_DUE)
        seed_app(i, account_id, expires_at=E + timedelta(days=365))
        out.append(Target(AccountModel, account_id))
    return out


def seed_settlement() -> list[Target]:
    test_settlement.seed(N)
    return [Target(AccountModel, f"acct{i:05d}") for i in range(N)]


def seed_push() -> list[Target]:
    out = []
    for i in range(N):
        account_id = seed_account(i, cash=500_000)
        sid = BASE + i
        seed_app(i, account_id, expires_at=E + timedelta(days=365), push_billing_shard=due_shard(sid),
             legacy_push_until=PUSH_DAY + timedelta(days=30),
             push_quota_log=[QuotaChangeMap(at=PUSH_DAY - timedelta(days=1), quota=300)])
        out.append(Target(AccountModel, account_id))
    return out


def seed_notifications() -> list[Target]:
    out = []
    for i in range(N):
        acct = AccountModel.get(seed_account(i))
        (n,) = [x for x in notifications.compose(acct, "bill", E, subject=f"bill {i}", body="b", ref=f"r{i}")
                if x.channel == "email"]
        n.save()  # pending, due at E + lease: its sender died
        out.append(Target(NotificationModel, n.account_id, n.notification_id))
    return out


# ------------------------------------------------------------------ final state: each item acted on once
def _notes(account_id: str, kind: str) -> list[NotificationModel]:
    return [n for n in NotificationModel.query(account_id, consistent_read=True) if n.kind == kind]


def check_warned(targets: list[Target]) -> None:
    for t in targets:
        app = AppModel.get(t.hash_key, consistent_read=True)
        assert app.last_warned_day == "2026-08-18"
        assert len(_notes(app.account_id, "expiry_warning")) == 2


def check_stopped(reason: str) -> Callable[[list[Target]], None]:
    def check(targets: list[Target]) -> None:
        for i, _ in enumerate(targets):
            app = AppModel.get(BASE + i, consistent_read=True)
            assert (app.status, app.stop_reason) == ("stopped", reason)
            assert len(_notes(app.account_id, "stopped")) == 2
            assert AccountModel.get(app.account_id, consistent_read=True).arrears_due_at is None

    return check


def check_reclaimed(targets: list[Target]) -> None:
    for t in targets:
        app = AppModel.get(t.hash_key, consistent_read=True)
        assert (app.status, app.purge_pending, app.reclaim_due_at) == ("reclaimed", None, None)
        assert len(_notes(app.account_id, "reclaimed")) == 2
        assert int(AccountModel.get(app.account_id, consistent_read=True).apps_count) == 0


def check_billed(total: int, start_cash: int) -> Callable[[list[Target]], None]:
    def check(targets: list[Target]) -> None:
        for t in targets:
            bills = list(BillModel.query(t.hash_key, consistent_read=True))
            assert [int(b.total) for b in bills] == [total]
            assert [e.kind for e in LedgerModel.query(t.hash_key, consistent_read=True)] == ["bill"]
            assert int(AccountModel.get(t.hash_key, consistent_read=True).cash) == start_cash - total
            assert len(_notes(str(t.hash_key), "bill")) == 2

    return check


def check_sent(targets: list[Target]) -> None:
    for t in targets:
        n = NotificationModel.get(t.hash_key, t.range_key, consistent_read=True)
        assert (n.status, n.send_due_at) == ("sent", None)


@dataclass(frozen=True)
class Case:
    job: str
    at: datetime
    outcome: str
    seed: Callable[[], list[Target]]
    check: Callable[[list[Target]], None]


CASES = [
    Case("expiry-warnings", datetime(2026, 8, 18, 1, 0, tzinfo=UTC), "warned", seed_apps, check_warned),
    Case("expiry-enforcement", datetime(2026, 8, 21, 10, 5, tzinfo=UTC), "stopped", seed_apps,
         check_stopped("expired")),
    Case("push-quota-billing", PUSH_DAY + timedelta(days=1, minutes=30), "billed", seed_push,
         check_billed(200 * 1000, 500_000)),  # (300 - 100) x 10.00
    Case("monthly-settlement", test_settlement.RUN, "billed", seed_settlement, check_billed(3518, 10_000)),
    Case("arrears-enforcement", ARREARS_DUE + timedelta(minutes=15), "stopped", seed_arrears,
         check_stopped("arrears")),
    Case("reclamation", datetime(2026, 11, 19, 3, 0, tzinfo=UTC), "reclaimed", lambda: seed_apps("stopped"),
         check_reclaimed),
    Case("notification-dispatch", E + timedelta(minutes=45), "sent", seed_notifications, check_sent),
]
IDS = [c.job for c in CASES]


class Outbox:
    """Records what SES/SNS were asked to send."""

    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def email(self, to: str, subject: str, body: str) -> None:
        with self._lock:
            self.sent[(to, subject)] += 1

    def sms(self, to: str, text: str) -> None:
        with self._lock:
            self.sent[(to, text)] += 1


@pytest.fixture
def outbox(store: None) -> Outbox:
    box = Outbox()
    bootstrap.use(bootstrap.compose(notifier=box))  # the store fixture composes afresh after the test
    return box


def run(case: Case) -> dict[str, Any]:
    return runner.run_job(case.job, case.at, contexts(UTC_TZ))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_conflicting_write_in_a_step_is_retried_and_the_run_finishes(store, monkeypatch, outbox, case):
    targets = case.seed()
    with concurrent_writer(monkeypatch, targets[0], times=2) as done:
        answer = run(case)
    assert done["changes"] == 2  # the other writer did get in before the job's write, twice
    assert (answer["summary"][case.outcome], answer["failed"]) == (N, 0)
    case.check(targets)
    assert all(n == 1 for n in outbox.sent.values()), outbox.sent
    again = run(case)  # and the run left nothing due
    assert (again["summary"][case.outcome], again["failed"]) == (0, 0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_item_that_keeps_conflicting_is_counted_failed_and_stays_due(store, monkeypatch, outbox, case):
    targets = case.seed()
    with concurrent_writer(monkeypatch, targets[0], times=None) as done:
        answer = run(case)
    assert done["changes"] >= 2
    assert (answer["summary"][case.outcome], answer["failed"]) == (N - 1, 1)  # the others were processed
    rerun = run(case)  # the next run, without the other writer
    assert (rerun["summary"][case.outcome], rerun["failed"]) == (1, 0)
    case.check(targets)
    assert all(n == 1 for n in outbox.sent.values()), outbox.sent


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_three_identical_runs_at_once_act_on_each_item_exactly_once(store, outbox, case):
    targets = case.seed()
    results = run_together([lambda: run(case) for _ in range(3)])
    assert all(status == "ok" for status, _ in results), results
    answers = [r for _, r in results]
    answers.append(run(case))  # a later run finishes what a run may have left (counted failed)
    assert sum(a["summary"][case.outcome] for a in answers) == N, answers
    assert answers[-1]["failed"] == 0
    case.check(targets)
    assert all(n == 1 for n in outbox.sent.values()), outbox.sent
