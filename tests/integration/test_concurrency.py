"""Concurrent money moves on one account: the optimistic version conditions never overspend,
and one Idempotency-Key sent many times at once makes one order and one answer.

Marked `storage`: runs on moto in-process and again on DynamoDB Local (`make test`).

moto 5 applies a request without any lock: under threads, two TransactWriteItems can both pass
their `version = :old` condition before either writes (seen: 6 to 12 of 20 purchases succeeding
on a balance for 5), which DynamoDB never allows. On moto each request is therefore made atomic
(a lock around moto's request handler); the services' own load-decide-commit steps still
interleave freely across requests, which is what these tests are about. DynamoDB Local needs no
such help."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.api.accounts import account_created, topped_up
from chalicelib.api.apps import app_created, bought
from chalicelib.domain.errors import InsufficientBalanceError
from chalicelib.services import accounts, apps, idempotency, purchases
from chalicelib.services.idempotency import Idem
from chalicelib.store.dynamodb.models import AccountModel, LedgerModel, OrderModel
from tests.composed import make_ctx

pytestmark = pytest.mark.storage


@pytest.fixture(autouse=True)
def atomic_moto_requests(
    store: None, ddb_endpoint: str | None, monkeypatch: pytest.MonkeyPatch, patient_retries: None
) -> None:
    if ddb_endpoint is not None:
        return
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    real = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        with lock:
            return real(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
CTX = make_ctx(now=NOW, tz=ZoneInfo("UTC"))
STANDARD_MONTH = 39900  # cents: 399.00


def seed(account_id: str, cash: int, n_apps: int) -> list[int]:
    accounts.create_account(CTX, account_id, f"{account_id}@x.test", "+15550100", idempotency.NONE, account_created)
    accounts.topup(CTX, account_id, cash, "cash", idempotency.NONE, topped_up)
    return [int(apps.create_app(CTX, account_id, f"app{i}", "us", idempotency.NONE, app_created)[1]["sdkappid"])
            for i in range(n_apps)]


def run_together(fns: list[Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Start every call at the same instant (a Barrier); answer ("ok", result) or ("error", exc) per call."""
    barrier = threading.Barrier(len(fns))
    results: list[tuple[str, Any]] = [("unset", None)] * len(fns)

    def worker(i: int, fn: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = ("ok", fn())
        except Exception as err:  # noqa: BLE001 - collected and asserted by the test
            results[i] = ("error", err)

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return results


def orders_of(ids: list[int]) -> list[OrderModel]:
    return [o for sid in ids for o in OrderModel.query(sid, consistent_read=True)]


@pytest.mark.timed  # 20 threads inside a wall-clock retry budget: not beside another test (make test)
def test_twenty_concurrent_purchases_on_a_balance_for_five_exactly_five_succeed(store):
    ids = seed("acme", 5 * STANDARD_MONTH, 20)

    results = run_together(
        [lambda sid=sid: purchases.purchase(CTX, sid, "standard", 1, None, None, idempotency.NONE, bought)
         for sid in ids]
    )

    ok = [r for status, r in results if status == "ok"]
    errors = [r for status, r in results if status == "error"]
    assert len(ok) == 5, results
    assert len(errors) == 15 and all(isinstance(e, InsufficientBalanceError) for e in errors), errors
    assert all(status == 201 for status, _ in ok)
    orders = orders_of(ids)
    assert len(orders) == 5
    assert sorted(int(o.paid_cash) for o in orders) == [STANDARD_MONTH] * 5
    acct = AccountModel.get("acme", consistent_read=True)
    assert (int(acct.cash), int(acct.gift)) == (0, 0)
    ledger = list(LedgerModel.query("acme", consistent_read=True))
    assert [e.kind for e in ledger] == ["topup"] + ["purchase"] * 5
    assert [int(e.seq) for e in ledger] == list(range(1, 7)) == list(range(1, int(acct.ledger_seq) + 1))
    assert sum(int(e.cash) for e in ledger) == int(acct.cash) == 0
    assert sum(int(e.gift) for e in ledger) == int(acct.gift)
    assert int(ledger[-1].balance_cash) == 0
    # the account was written once per move (create, top-up, 20 app creations, 5 purchases)
    assert int(acct.version) == 1 + 20 + 5


def test_one_idempotency_key_sent_ten_times_at_once_makes_one_order_and_one_answer(store):
    (sid,) = seed("acme", 3 * STANDARD_MONTH, 1)
    body = {"edition": "standard", "months": 1}
    idem = Idem.of("k-7f3a", f"operator#POST /v1/apps/{sid}/purchases", body)

    results = run_together(
        [lambda: purchases.purchase(CTX, sid, "standard", 1, None, None, idem, bought) for _ in range(10)]
    )

    assert all(status == "ok" for status, _ in results), results
    answers = [r for _, r in results]
    assert all(a == answers[0] for a in answers), [a for a in answers if a != answers[0]]
    assert answers[0][0] == 201
    orders = orders_of([sid])
    assert len(orders) == 1
    assert answers[0][1]["order"]["order_id"] == orders[0].order_id
    acct = AccountModel.get("acme", consistent_read=True)
    assert int(acct.cash) == 2 * STANDARD_MONTH
    assert [e.kind for e in LedgerModel.query("acme", consistent_read=True)] == ["topup", "purchase"]


def test_a_purchase_that_loses_one_race_pays_one_more_request_not_a_reload(store, monkeypatch):
    """Issue 21 item 4: the lost commit answers the account that beat it (ALL_OLD) and says the app's
    version held, so the next attempt decides from those without reading either again."""
    from tests.integration.requests import count_requests
    from tests.integration.test_job_steps import Target, concurrent_writer

    (sid,) = seed("acme", 2 * STANDARD_MONTH, 1)
    with count_requests() as seen, concurrent_writer(monkeypatch, Target(AccountModel, "acme"), times=1) as done:
        status, _ = purchases.purchase(CTX, sid, "standard", 1, None, None, idempotency.NONE, bought)
    assert (status, done["changes"]) == (201, 1)
    # the app and the account read once; the commit that lost, the other writer's update, the commit
    assert dict(seen.calls) == {"GetItem": 2, "TransactWriteItems": 2, "UpdateItem": 1}
    acct = AccountModel.get("acme", consistent_read=True)
    assert (int(acct.cash), int(acct.ledger_seq), int(acct.version)) == (STANDARD_MONTH, 2, 1 + 1 + 1 + 1)
    assert [(int(e.seq), int(e.balance_cash)) for e in LedgerModel.query("acme", consistent_read=True)] == [
        (1, 2 * STANDARD_MONTH), (2, STANDARD_MONTH)]


def test_threads_buying_on_one_account_take_turns_instead_of_racing(store):
    """Issue 21 item 4: 8 threads x 2 purchases on one account: a thread that lost once waits its turn
    at the account (store/gates.py) and starts from the account the previous turn committed, so a
    purchase costs about one commit and two reads (racing, each cost ~5 commits and ~8 requests)."""
    from tests.integration.requests import count_requests

    ids = seed("acme", 16 * STANDARD_MONTH, 8)

    def two(sid: int) -> list[int]:
        return [purchases.purchase(CTX, sid, "standard", 1, None, None, idempotency.NONE, bought)[0]
                for _ in range(2)]

    with count_requests() as seen:
        results = run_together([lambda sid=sid: two(sid) for sid in ids])
    assert results == [("ok", [201, 201])] * 8, results
    assert seen.calls["TransactWriteItems"] <= 2 * 16, seen.calls
    assert seen.total <= 4 * 16, seen.calls
    acct = AccountModel.get("acme", consistent_read=True)
    ledger = list(LedgerModel.query("acme", consistent_read=True))
    assert (int(acct.cash), int(acct.ledger_seq)) == (0, 17)
    assert [int(e.seq) for e in ledger] == list(range(1, 18))
    assert [int(e.balance_cash) for e in ledger] == [16 * STANDARD_MONTH - i * STANDARD_MONTH for i in range(17)]
