"""Account use cases (create, top-up, vouchers, ledger reads) on the in-memory unit of work: the rules
of the services without AWS. The same behaviour through the API and DynamoDB is in tests/api."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.api.accounts import account_created, topped_up, voucher_created
from chalicelib.domain.errors import Conflict, Forbidden, InvalidRequest, NotFound
from chalicelib.services import accounts
from chalicelib.services.context import Ctx, Principal
from chalicelib.services.idempotency import NONE, Idem
from chalicelib.store.dynamodb.models import AccountModel, LedgerModel
from tests.composed import make_ctx
from tests.fakes.uow import FakeStore, FakeUnitOfWork

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def ctx_of(tables: FakeStore, principal: Principal | None = None) -> Ctx:
    if principal is None:
        return make_ctx(now=NOW, tz=ZoneInfo("UTC"), uow=tables.uow)
    return make_ctx(now=NOW, tz=ZoneInfo("UTC"), principal=principal, uow=tables.uow)


@pytest.fixture
def ctx(tables: FakeStore) -> Ctx:
    ctx = ctx_of(tables)
    accounts.create_account(ctx, "acme", "acme@x.test", "+15550100", NONE, account_created)
    return ctx


def stored_account(tables: FakeStore, account_id: str = "acme") -> AccountModel:
    acct = FakeUnitOfWork(tables).accounts.get(account_id)
    assert acct is not None
    return acct


def ledger(tables: FakeStore, account_id: str = "acme") -> list[LedgerModel]:
    return FakeUnitOfWork(tables).ledger.page(account_id, 1000, None).items


def topup_key(key: str, amount: str = "100.00") -> Idem:
    return Idem.of(key, "operator:-#topup:acme", {"amount": amount, "kind": "cash"})


def test_an_account_is_created_empty_and_active(tables: FakeStore) -> None:
    status, body = accounts.create_account(ctx_of(tables), "acme", "a@x.test", "+15550100", NONE, account_created)
    assert status == 201
    assert (body["status"], body["balance"], body["apps_count"]) == (
        "active", {"cash": "0.00", "gift": "0.00", "total": "0.00"}, 0)
    assert (int(stored_account(tables).version), int(stored_account(tables).ledger_seq)) == (0, 0)


def test_an_account_id_is_taken_once(ctx: Ctx, tables: FakeStore) -> None:
    with pytest.raises(Conflict):
        accounts.create_account(ctx, "acme", "other@x.test", "+15550101", NONE, account_created)
    assert stored_account(tables).email == "acme@x.test"


def test_a_create_retried_with_its_key_answers_the_first_response_and_creates_once(tables: FakeStore) -> None:
    ctx = ctx_of(tables)
    idem = Idem.of("k1", "operator:-#account", {"account_id": "acme"})
    first = accounts.create_account(ctx, "acme", "a@x.test", "+15550100", idem, account_created)
    commits = tables.commits
    again = accounts.create_account(ctx, "acme", "a@x.test", "+15550100", idem, account_created)
    assert json.dumps(again) == json.dumps(first)
    assert tables.commits == commits  # the retry wrote nothing


def test_a_top_up_retried_with_the_same_key_credits_once(ctx: Ctx, tables: FakeStore) -> None:
    first = accounts.topup(ctx, "acme", 10_000, "cash", topup_key("t1"), topped_up)
    again = accounts.topup(ctx, "acme", 10_000, "cash", topup_key("t1"), topped_up)
    assert json.dumps(again) == json.dumps(first)  # the stored first answer, byte for byte
    assert first[0] == 201 and first[1]["balance"] == {"cash": "100.00", "gift": "0.00", "total": "100.00"}
    assert int(stored_account(tables).cash) == 10_000
    assert [int(e.cash) for e in ledger(tables)] == [10_000]


def test_a_key_reused_with_another_body_is_refused_and_changes_nothing(ctx: Ctx, tables: FakeStore) -> None:
    accounts.topup(ctx, "acme", 10_000, "cash", topup_key("t1"), topped_up)
    with pytest.raises(Conflict) as err:
        accounts.topup(ctx, "acme", 20_000, "cash", topup_key("t1", "200.00"), topped_up)
    assert err.value.code == "idempotency_key_reused"
    assert int(stored_account(tables).cash) == 10_000


def test_the_ledger_sums_to_the_balance(ctx: Ctx, tables: FakeStore) -> None:
    for amount, kind in [(10_000, "cash"), (2_500, "gift"), (1, "cash"), (99, "gift")]:
        accounts.topup(ctx, "acme", amount, kind, NONE, topped_up)
    acct, entries = stored_account(tables), ledger(tables)
    assert [int(e.seq) for e in entries] == [1, 2, 3, 4]
    assert (sum(int(e.cash) for e in entries), sum(int(e.gift) for e in entries)) == (10_001, 2_599)
    assert (int(acct.cash), int(acct.gift), int(acct.ledger_seq)) == (10_001, 2_599, 4)
    assert (int(entries[-1].balance_cash), int(entries[-1].balance_gift)) == (10_001, 2_599)


def test_a_top_up_that_lost_a_race_is_decided_again_on_the_winner_s_balance(ctx: Ctx, tables: FakeStore) -> None:
    """Another writer commits between our read and our commit: ours is refused, reloaded, applied on top."""
    raced = []

    class Racing(FakeUnitOfWork):
        def _commit(self, writes: list) -> None:  # type: ignore[type-arg]
            if not raced:
                raced.append(1)
                accounts.topup(ctx_of(tables), "acme", 500, "cash", NONE, topped_up)
            super()._commit(writes)

    status, body = accounts.topup(make_ctx(now=NOW, tz=ZoneInfo("UTC"), uow=lambda: Racing(tables)), "acme", 10_000,
                                  "cash", NONE, topped_up)
    assert (status, body["balance"]["cash"], body["entry"]["entry_id"]) == (201, "105.00", "acme-00000002")
    assert [int(e.cash) for e in ledger(tables)] == [500, 10_000]


def test_a_top_up_of_a_missing_account_is_not_found_and_writes_nothing(ctx: Ctx, tables: FakeStore) -> None:
    commits = tables.commits
    with pytest.raises(NotFound):
        accounts.topup(ctx, "nobody", 100, "cash", topup_key("t2"), topped_up)
    assert tables.commits == commits
    assert FakeUnitOfWork(tables).idempotency.get(topup_key("t2").record_key) is None  # no answer recorded


def test_only_operators_top_up_and_a_customer_reads_only_its_own_account(ctx: Ctx, tables: FakeStore) -> None:
    customer = ctx_of(tables, Principal("customer", "acme"))
    with pytest.raises(Forbidden):
        accounts.topup(customer, "acme", 100, "cash", NONE, topped_up)
    assert accounts.get_account(customer, "acme").account_id == "acme"
    with pytest.raises(NotFound):
        accounts.get_account(ctx_of(tables, Principal("customer", "other")), "acme")


def test_a_voucher_is_granted_listed_and_must_expire_after_now(ctx: Ctx, tables: FakeStore) -> None:
    status, body = accounts.create_voucher(ctx, "acme", 5_000, NOW + timedelta(days=30), NONE, voucher_created)
    assert (status, body["amount"], body["used_by_order"]) == (201, "50.00", None)
    assert [v.voucher_id for v in accounts.list_vouchers(ctx, "acme", 10, None).items] == [body["voucher_id"]]
    with pytest.raises(InvalidRequest):
        accounts.create_voucher(ctx, "acme", 5_000, NOW, NONE, voucher_created)
    with pytest.raises(NotFound):
        accounts.create_voucher(ctx, "nobody", 5_000, None, NONE, voucher_created)


def test_the_ledger_is_read_in_pages_oldest_first(ctx: Ctx) -> None:
    for i in range(5):
        accounts.topup(ctx, "acme", 100 + i, "cash", NONE, topped_up)
    seen, token, pages = [], None, 0
    while True:
        page = accounts.list_ledger(ctx, "acme", 2, token)
        seen += [int(e.seq) for e in page.items]
        pages += 1
        token = page.next_token
        if token is None:
            break
    assert (seen, pages) == ([1, 2, 3, 4, 5], 3)
    with pytest.raises(InvalidRequest):
        accounts.list_ledger(ctx, "acme", 2, "not-a-token")
