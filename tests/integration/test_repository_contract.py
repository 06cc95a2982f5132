"""The repository contract: the same cases against the in-memory unit of work and DynamoDB (moto, and
DynamoDB Local in the ddblocal pass), so service tests on the fake hold for the real store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from chalicelib.store.dynamo_uow import DynamoUnitOfWork
from chalicelib.store.fake_uow import FakeStore
from chalicelib.store.models import AccountModel, LedgerModel
from chalicelib.store.unit_of_work import UnitOfWork, WriteConflict

pytestmark = pytest.mark.storage

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamodb"])
def uow(request: pytest.FixtureRequest) -> Iterator[Callable[[], UnitOfWork]]:
    if request.param == "fake":
        yield FakeStore().uow
    else:
        request.getfixturevalue("store")
        yield DynamoUnitOfWork


def account(account_id: str = "acme", **kw: object) -> AccountModel:
    fields: dict[str, object] = {"email": "a@x.test", "phone": "+15550100", "due_shard": "0", "cash": 0, "gift": 0,
                                 "apps_count": 0, "ledger_seq": 0, "version": 0, "created_at": NOW}
    return AccountModel(account_id, **{**fields, **kw})


def entry(seq: int, account_id: str = "acme") -> LedgerModel:
    return LedgerModel(account_id, seq, at=NOW, kind="topup", cash=seq, gift=0, balance_cash=seq, balance_gift=0)


def test_an_added_record_is_read_back_and_a_missing_one_is_none(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.accounts.add(account(cash=250))
        u.commit()
    with uow() as u:
        got = u.accounts.get("acme")
        assert got is not None and (got.email, int(got.cash), got.created_at) == ("a@x.test", 250, NOW)
        assert u.accounts.get("nobody") is None


def test_add_creates_only_if_absent(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.accounts.add(account())
        u.commit()
    with uow() as u, pytest.raises(WriteConflict):
        u.accounts.add(account(cash=999))
        u.commit()
    with uow() as u:
        assert int(u.accounts.get("acme").cash) == 0  # type: ignore[union-attr]


def test_save_writes_only_over_the_version_read_and_a_failed_commit_writes_nothing(
        uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.accounts.add(account())
        u.commit()
    with uow() as first, uow() as second:
        a, b = first.accounts.get("acme"), second.accounts.get("acme")
        assert a is not None and b is not None
        a.cash = 100
        first.accounts.save(a)
        first.commit()
        b.cash = 200
        second.accounts.save(b)
        second.ledger.add(entry(1))  # in the same commit as the stale save
        with pytest.raises(WriteConflict):
            second.commit()
    with uow() as u:
        stored = u.accounts.get("acme")
        assert stored is not None and (int(stored.cash), int(stored.version)) == (100, 1)
        assert u.ledger.get("acme", 1) is None


def test_a_guard_fails_the_commit_once_the_record_changed(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.accounts.add(account())
        u.commit()
    with uow() as u:
        read = u.accounts.get("acme")
        assert read is not None
        u.accounts.guard(read)
        u.ledger.add(entry(1))
        u.commit()  # unchanged: the entry is written
        u.accounts.save(read)
        u.commit()
        u.accounts.guard(account(version=0))  # the version before the save
        u.ledger.add(entry(2))
        with pytest.raises(WriteConflict):
            u.commit()
    with uow() as u:
        assert [int(e.seq) for e in u.ledger.page("acme", 10, None).items] == [1]


def test_one_commit_may_not_touch_an_item_twice(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.ledger.add(entry(1))
        u.ledger.add(entry(1))
        with pytest.raises(ValueError):  # refused before anything is sent
            u.commit()
    with uow() as u:
        assert u.ledger.get("acme", 1) is None


def test_writes_not_committed_are_forgotten(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.accounts.add(account())
    with uow() as u:
        assert u.accounts.get("acme") is None
        u.commit()  # nothing registered: nothing to do


def test_a_partition_is_read_in_pages_in_key_order(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        for seq in (3, 1, 12, 2, 5):
            u.ledger.add(entry(seq))
        u.ledger.add(entry(4, account_id="other"))
        u.commit()
    seen: list[int] = []
    token = None
    with uow() as u:
        while True:
            page = u.ledger.page("acme", 2, token, consistent=True)
            seen += [int(e.seq) for e in page.items]
            token = page.next_token
            if token is None:
                break
    assert seen == [1, 2, 3, 5, 12]


def test_after_commit_runs_only_once_committed(uow: Callable[[], UnitOfWork]) -> None:
    ran: list[str] = []
    with uow() as u:
        u.after_commit(lambda: ran.append("x"))
        u.accounts.add(account())
    assert ran == []
    with uow() as u:
        u.after_commit(lambda: ran.append("y"))
        u.accounts.add(account("other"))
        u.commit()
    assert ran == ["y"]
