"""The outbox: a commit writes its change's one event in the same transaction; a commit that fails
writes none; a use case that lost a race and ran again writes one, for the change that committed."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.api.accounts import topped_up
from chalicelib.services import accounts, events
from chalicelib.services.context import Ctx, Principal
from chalicelib.services.idempotency import NONE, Idem
from chalicelib.store.dynamodb.models import AccountModel, EventModel
from chalicelib.store.port import WriteConflict
from tests.composed import make_ctx
from tests.fakes.uow import FakeStore, FakeUnitOfWork

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ADA = Principal(role="operator", sub="ada")


def stored_events(tables: FakeStore) -> list[EventModel]:
    return sorted((EventModel.from_raw_data(raw) for raw in tables.table(EventModel).values()),
                  key=lambda e: e.event_id)


def ctx_of(tables: FakeStore, uow=None, request_id: str | None = "req-1") -> Ctx:  # type: ignore[no-untyped-def]
    return make_ctx(now=NOW, tz=ZoneInfo("UTC"), principal=ADA, uow=uow or tables.uow, request_id=request_id)


def created(tables: FakeStore) -> None:
    accounts.create_account(ctx_of(tables), "acme", "a@x.test", "+15550100", NONE, lambda a: (201, {"id": "acme"}))


def test_a_commit_writes_its_event_in_the_same_transaction(tables: FakeStore) -> None:
    created(tables)
    assert tables.commits == 1  # one transaction: the account and its event
    (event,) = stored_events(tables)
    assert (event.type, event.account_id, event.actor_role, event.actor_sub, event.actor_key, event.request_id) == \
        ("account.created", "acme", "operator", "ada", "ada", "req-1")
    assert event.data == '{"id":"acme"}'  # the request's answer
    assert event.day == "2026-03-01"


def test_a_failed_commit_writes_no_event(tables: FakeStore) -> None:
    created(tables)
    with FakeUnitOfWork(tables) as u:
        acct = u.accounts.get("acme")
        assert acct is not None
        u.accounts.add(AccountModel("acme", email="x", phone="y", due_shard="0", created_at=NOW))  # exists: fails
        events.emit(u, ctx_of(tables), "account.created", account_id="acme", data={})
        with pytest.raises(WriteConflict):
            u.commit()
    assert [e.type for e in stored_events(tables)] == ["account.created"]


def test_a_race_lost_and_won_again_writes_one_event_per_committed_change(tables: FakeStore) -> None:
    created(tables)
    raced: list[int] = []

    class Racing(FakeUnitOfWork):
        def _commit(self, writes: list) -> None:  # type: ignore[type-arg]
            if not raced:
                raced.append(1)
                accounts.topup(ctx_of(tables, request_id="req-2"), "acme", 500, "cash", NONE, topped_up)
            super()._commit(writes)

    accounts.topup(ctx_of(tables, lambda: Racing(tables), "req-3"), "acme", 10_000, "cash",
                   Idem.of("k", "s", {}), topped_up)
    found = stored_events(tables)
    assert [(e.type, e.request_id) for e in found] == [("account.created", "req-1"), ("account.topped_up", "req-2"),
                                                       ("account.topped_up", "req-3")]
    assert '"cash":"105.00"' in found[-1].data  # the data of the attempt that committed


def test_one_commit_declares_one_event(tables: FakeStore) -> None:
    with FakeUnitOfWork(tables) as u:
        events.emit(u, ctx_of(tables), "account.created", account_id="acme", data={})
        with pytest.raises(ValueError, match="one event"):
            events.emit(u, ctx_of(tables), "voucher.granted", account_id="acme", data={})
    with pytest.raises(ValueError, match="unknown event type"):
        events.emit(FakeUnitOfWork(tables), ctx_of(tables), "account.exploded")


def test_a_job_s_change_has_the_job_as_its_system_actor(tables: FakeStore) -> None:
    from tests.composed import job_ctx

    ctx = job_ctx("reclamation", NOW, ZoneInfo("UTC"))
    with FakeUnitOfWork(tables) as u:
        u.accounts.add(AccountModel("acme", email="x", phone="y", due_shard="0", created_at=NOW))
        events.emit(u, ctx, "account.created", account_id="acme", data={})
        u.commit()
    (event,) = stored_events(tables)
    assert (event.actor_role, event.actor_sub, event.actor_key, event.request_id) == \
        ("system", "reclamation", None, None)
