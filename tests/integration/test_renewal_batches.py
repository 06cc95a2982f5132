"""Batch renewal on DynamoDB (moto, and DynamoDB Local: `storage`): a batch interrupted after its payment
and after several items (a failure injected between two writes) is finished, by a retry with the same
Idempotency-Key or by the renewal-batches job, with every item applied once and the ledger summing to
the balance; a 100-item batch costs fewer than 400 DynamoDB requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.api.accounts import account_created, topped_up
from chalicelib.services import accounts, idempotency, renewals
from chalicelib.services.context import Ctx, Principal
from chalicelib.services.idempotency import Idem, Response
from chalicelib.services.renewals import Item, Reserved
from chalicelib.store.dynamodb.adapter import DynamoUnitOfWork
from chalicelib.store.dynamodb.models import AppModel, due_shard
from tests.composed import contexts, make_ctx
from tests.integration.requests import count_requests

pytestmark = pytest.mark.storage

T0 = datetime(2026, 3, 1, tzinfo=UTC)
UTC_TZ = ZoneInfo("UTC")


class Crash(Exception):
    """The process dies between two writes."""


def seed(n: int, cash: int) -> list[int]:
    """acme with `cash`, and n Standard apps expiring 2026-04-01 (written directly: the set-up is not
    what is measured)."""
    ctx = make_ctx(now=T0, tz=UTC_TZ)
    accounts.create_account(ctx, "acme", "a@x.test", "+15550100", idempotency.NONE, account_created)
    accounts.topup(ctx, "acme", cash, "cash", idempotency.NONE, topped_up)
    sids = [1_400_100_000 + i for i in range(n)]
    with AppModel.batch_write() as batch:
        for sid in sids:
            batch.save(AppModel(sid, account_id="acme", name=f"a{sid}", region="us", edition="standard",
                                status="enabled", created_at=T0, expires_at=datetime(2026, 4, 1, tzinfo=UTC),
                                due_shard=due_shard(sid), had_paid=True, version=0))
    return sids


def keep(r: Reserved) -> Response:
    return 201, {"renewal_id": r.batch.renewal_id}


def customer(when: datetime) -> Ctx:
    return make_ctx(now=when, tz=UTC_TZ, principal=Principal("customer", "acme"))


def state() -> tuple[tuple[int, int], tuple[int, int], int]:
    u = DynamoUnitOfWork()
    acct = u.accounts.get("acme")
    assert acct is not None
    entries = u.ledger.page("acme", 1000, None, consistent=True).items
    return (int(acct.cash), int(acct.gift)), (sum(int(e.cash) for e in entries),
                                              sum(int(e.gift) for e in entries)), int(acct.held_cash or 0)


@pytest.mark.parametrize("crash_before", [0, 3])
def test_an_interrupted_batch_is_finished_with_every_item_applied_once(store, crash_before: int) -> None:
    sids = seed(5, 39_900 * 5)
    items = [Item(s, "standard", 1) for s in sids]
    key = Idem.of("batch-1", "customer:acme#renewals:acme", {"n": 5})

    def crash(i: int) -> None:
        if i == crash_before:
            raise Crash

    renewals._before_item.append(crash)
    try:
        with pytest.raises(Crash):
            renewals.renew(customer(T0 + timedelta(days=10)), "acme", items, None, None, key, keep)
    finally:
        renewals._before_item.remove(crash)
    balance, ledger, held = state()
    assert balance == ledger == (39_900 * (5 - crash_before), 0)  # paid items only, each one entry
    assert held == 39_900 * (5 - crash_before)  # the rest is reserved, not spendable
    assert len(DynamoUnitOfWork().renewals.open()) == 1
    if crash_before == 0:  # the job finishes it (as the next hourly run would)
        from chalicelib.jobs import runner

        summary = runner.run_job("renewal-batches", T0 + timedelta(days=10, hours=1), contexts(UTC_TZ))["summary"]
        assert summary["finished"] == 1
    else:  # a retry with the same key answers the first response and finishes the batch
        renewals.renew(customer(T0 + timedelta(days=10)), "acme", items, None, None, key, keep)
    assert state() == ((0, 0), (0, 0), 0)
    u = DynamoUnitOfWork()
    assert [len(u.orders.of_app(s)) for s in sids] == [1] * 5
    assert {u.apps.get(s).expires_at for s in sids} == {datetime(2026, 5, 1, tzinfo=UTC)}
    assert u.renewals.open() == []
    # a second finishing run finds nothing to do
    assert renewals.finish(customer(T0 + timedelta(days=11)), "acme",
                           u.renewals.page("acme", 10, None).items[0].renewal_id) == 0


@pytest.mark.heavy
def test_a_100_item_batch_costs_fewer_than_400_requests(store) -> None:
    sids = seed(100, 39_900 * 100)
    items = [Item(s, "standard", 1) for s in sids]
    with count_requests() as counter:
        renewals.renew(customer(T0 + timedelta(days=10)), "acme", items, None, None,
                       Idem.of("b100", "customer:acme#renewals:acme", {"n": 100}), keep)
    print("100-item batch requests:", counter.total, dict(counter.calls))
    assert counter.total < 400, dict(counter.calls)
    assert counter.calls["TransactWriteItems"] == 1 + 100, dict(counter.calls)
    assert state() == ((0, 0), (0, 0), 0)
