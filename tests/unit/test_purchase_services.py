"""App and purchase use cases (create, read, auto-renew, Developer extension, buy, renew, upgrade,
refund, vouchers, idempotency) on the in-memory unit of work: the rules of the services without AWS.
The same behaviour through the API and DynamoDB is in tests/api/test_purchase_flow.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.api.accounts import account_created, topped_up, voucher_created
from chalicelib.api.apps import app_changed, app_created, bought, quoted, refunded
from chalicelib.domain.errors import Conflict, Gone, InsufficientBalanceError, NotFound
from chalicelib.services import accounts, apps, purchases
from chalicelib.services.context import Ctx, Principal
from chalicelib.services.idempotency import NONE, Idem, Response
from chalicelib.store.dynamodb.models import AccountModel, AppModel, LedgerModel, OrderModel
from tests.composed import make_ctx
from tests.fakes.uow import FakeStore, FakeUnitOfWork

UTC_TZ = ZoneInfo("UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ctx_at(tables: FakeStore, when: datetime, principal: Principal | None = None) -> Ctx:
    if principal is None:
        return make_ctx(now=when, tz=UTC_TZ, uow=tables.uow)
    return make_ctx(now=when, tz=UTC_TZ, principal=principal, uow=tables.uow)


def new_app(tables: FakeStore, when: datetime, cash: int = 0, gift: int = 0) -> int:
    """The account 'acme' (created once) with `cash` and `gift` added, and a new app on it."""
    ctx = ctx_at(tables, when)
    if FakeUnitOfWork(tables).accounts.get("acme") is None:
        accounts.create_account(ctx, "acme", "acme@x.test", "+15550100", NONE, account_created)
    if cash:
        accounts.topup(ctx, "acme", cash, "cash", NONE, topped_up)
    if gift:
        accounts.topup(ctx, "acme", gift, "gift", NONE, topped_up)
    return int(apps.create_app(ctx, "acme", "chat", "us", NONE, app_created)[1]["sdkappid"])


def buy(tables: FakeStore, when: str, sid: int, edition: str = "standard", months: int = 1,
        voucher_id: str | None = None, idem: Idem = NONE) -> Response:
    return purchases.purchase(ctx_at(tables, at(when)), sid, edition, months, None, voucher_id, idem, bought)


def refund(tables: FakeStore, when: str, sid: int, idem: Idem = NONE) -> Response:
    return purchases.refund(ctx_at(tables, at(when)), sid, None, idem, refunded)


def account(tables: FakeStore) -> AccountModel:
    acct = FakeUnitOfWork(tables).accounts.get("acme")
    assert acct is not None
    return acct


def stored_app(tables: FakeStore, sid: int) -> AppModel:
    app = FakeUnitOfWork(tables).apps.get(sid)
    assert app is not None
    return app


def orders(tables: FakeStore, sid: int) -> list[OrderModel]:
    return FakeUnitOfWork(tables).orders.of_app(sid)


def ledger(tables: FakeStore) -> list[LedgerModel]:
    return FakeUnitOfWork(tables).ledger.page("acme", 1000, None).items


def assert_ledger_sums_to_balance(tables: FakeStore) -> None:
    acct, entries = account(tables), ledger(tables)
    assert (sum(int(e.cash) for e in entries), sum(int(e.gift) for e in entries)) == (int(acct.cash), int(acct.gift))
    assert [int(e.seq) for e in entries] == list(range(1, int(acct.ledger_seq) + 1))


# ---------------------------------------------------------------- apps
def test_a_new_app_is_developer_enabled_for_a_month_and_counted(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-03-10T09:30:00"))
    app = stored_app(tables, sid)
    assert (app.edition, app.status, app.expires_at) == ("developer", "enabled", at("2026-04-10T09:30:00"))
    assert app.enforce_due_at is not None  # the dues are written with the app
    assert int(account(tables).apps_count) == 1
    assert sid > 1_400_000_000


def test_another_customer_does_not_see_the_app(tables: FakeStore) -> None:
    when = at("2026-03-10T09:30:00")
    sid = new_app(tables, when)
    assert int(apps.get_app(ctx_at(tables, when, Principal("customer", "acme")), sid).sdkappid) == sid
    with pytest.raises(NotFound):
        apps.get_app(ctx_at(tables, when, Principal("customer", "other")), sid)


def test_the_account_s_apps_are_listed_in_pages(tables: FakeStore) -> None:
    when = at("2026-03-10T09:30:00")
    sids = [new_app(tables, when) for _ in range(3)]
    ctx = ctx_at(tables, when)
    first = apps.list_apps(ctx, "acme", 2, None)
    assert first.next_token is not None
    rest = apps.list_apps(ctx, "acme", 2, first.next_token)
    assert [int(a.sdkappid) for a in first.items + rest.items] == sids and rest.next_token is None


def test_a_developer_app_does_not_auto_renew_and_is_extended_only_after_expiry(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-03-10T09:30:00"))
    with pytest.raises(Conflict):
        apps.set_auto_renew(ctx_at(tables, at("2026-03-11T00:00:00")), sid, True, app_changed)
    with pytest.raises(Conflict):
        apps.extend_trial(ctx_at(tables, at("2026-04-10T09:29:59")), sid, NONE, app_changed)
    status, body = apps.extend_trial(ctx_at(tables, at("2026-04-12T00:00:00")), sid, NONE, app_changed)
    assert (status, body["expires_at"], body["status"]) == (200, "2026-05-12T00:00:00Z", "enabled")
    assert int(stored_app(tables, sid).version) == 1


# ---------------------------------------------------------------- purchases (billing-rules 4-5, 8)
def test_worked_example_1_standard_bought_then_refunded_disables_the_app(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-02-20T00:00:00"), cash=39_900)
    status, body = buy(tables, "2026-03-01T00:00:00", sid)
    assert status == 201
    assert (body["order"]["kind"], body["order"]["paid_cash"], body["order"]["ends_at"]) == (
        "new", "399.00", "2026-04-01T00:00:00Z")
    assert body["balance"]["total"] == "0.00" and body["app"]["edition"] == "standard"
    status, body = refund(tables, "2026-03-11T00:00:00", sid)
    assert status == 201
    assert (body["refund"]["used_value"], body["refund"]["total"], body["refund"]["cash"], body["refund"]["gift"]) == (
        "128.71", "270.29", "270.29", "0.00")
    assert body["app"]["status"] == "disabled" and body["balance"]["cash"] == "270.29"
    (order,) = orders(tables, sid)
    assert order.refunded and order.ends_at == at("2026-03-11T00:00:00")
    assert_ledger_sums_to_balance(tables)


def test_worked_example_2_voucher_then_cash_then_gift_and_refund_by_ratio(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-04-01T00:00:00"), cash=40_000, gift=30_000)
    _, voucher = accounts.create_voucher(ctx_at(tables, at("2026-04-01T00:00:00")), "acme", 10_000, None, NONE,
                                         voucher_created)
    _, body = buy(tables, "2026-04-10T00:00:00", sid, "pro", voucher_id=voucher["voucher_id"])
    order = body["order"]
    assert (order["voucher_amount"], order["paid_cash"], order["paid_gift"]) == ("100.00", "400.00", "199.00")
    assert body["balance"] == {"cash": "0.00", "gift": "101.00", "total": "101.00"}
    _, body = refund(tables, "2026-04-20T12:00:00", sid)
    assert (body["refund"]["used_value"], body["refund"]["total"], body["refund"]["cash"], body["refund"]["gift"]) == (
        "244.65", "354.35", "236.63", "117.72")
    assert body["balance"] == {"cash": "236.63", "gift": "218.72", "total": "455.35"}
    assert_ledger_sums_to_balance(tables)


def test_worked_example_3_refund_counts_the_periods_not_started(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-01-10T00:00:00"), cash=119_700)
    _, body = buy(tables, "2026-01-15T00:00:00", sid, months=3)
    assert [p["ends_at"] for p in body["order"]["periods"]] == [
        "2026-02-15T00:00:00Z", "2026-03-15T00:00:00Z", "2026-04-15T00:00:00Z"]
    quote = quoted(purchases.refund_quote(ctx_at(tables, at("2026-02-20T00:00:00")), sid, None))
    assert (quote["current_amount"], quote["not_started_amount"], quote["used_value"], quote["total"]) == (
        "399.00", "399.00", "71.25", "726.75")
    _, body = refund(tables, "2026-02-20T00:00:00", sid)
    assert body["refund"] == quote and body["balance"]["cash"] == "726.75"


def test_worked_example_4_upgrade_credits_the_unused_standard_then_charges_pro(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-05-20T00:00:00"), cash=100_000)
    buy(tables, "2026-06-01T00:00:00", sid)
    status, body = buy(tables, "2026-06-16T00:00:00", sid, "pro")
    assert status == 201
    assert body["credit"] == {"total": "199.50", "cash": "199.50", "gift": "0.00"}
    assert (body["order"]["kind"], body["order"]["price"], body["order"]["starts_at"], body["order"]["ends_at"]) == (
        "upgrade", "699.00", "2026-06-16T00:00:00Z", "2026-07-16T00:00:00Z")
    assert body["balance"]["cash"] == "101.50"  # 1000 - 399 + 199.50 - 699
    standard, pro = orders(tables, sid)
    assert standard.refunded and standard.ends_at == at("2026-06-16T00:00:00") and not pro.refunded
    assert [e.kind for e in ledger(tables)] == ["topup", "purchase", "credit", "purchase"]
    assert_ledger_sums_to_balance(tables)


def test_a_renewal_appends_periods_after_the_current_expiry(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-02-20T00:00:00"), cash=79_800)
    buy(tables, "2026-03-01T00:00:00", sid)
    _, body = buy(tables, "2026-03-20T00:00:00", sid)
    assert (body["order"]["kind"], body["order"]["starts_at"], body["order"]["ends_at"]) == (
        "renewal", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z")
    assert body["app"]["expires_at"] == "2026-05-01T00:00:00Z" and body["balance"]["total"] == "0.00"
    assert_ledger_sums_to_balance(tables)


def test_a_downgrade_is_refused_and_a_reclaimed_app_is_gone(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-02-20T00:00:00"), cash=100_000)
    buy(tables, "2026-03-01T00:00:00", sid, "pro")
    with pytest.raises(Conflict) as err:
        buy(tables, "2026-03-02T00:00:00", sid, "standard")
    assert err.value.code == "downgrade_not_allowed"
    app = stored_app(tables, sid)
    app.status = "reclaimed"
    with FakeUnitOfWork(tables) as u:
        u.apps.save(app)
        u.commit()
    with pytest.raises(Gone):
        buy(tables, "2026-03-03T00:00:00", sid, "pro")


def test_a_voucher_pays_one_order_only(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-03-01T00:00:00"), cash=100_000)
    _, voucher = accounts.create_voucher(ctx_at(tables, at("2026-03-01T00:00:00")), "acme", 5_000, None, NONE,
                                         voucher_created)
    _, body = buy(tables, "2026-03-02T00:00:00", sid, voucher_id=voucher["voucher_id"])
    assert (body["order"]["voucher_amount"], body["order"]["paid_cash"]) == ("50.00", "349.00")
    commits = tables.commits
    with pytest.raises(Conflict):
        buy(tables, "2026-03-03T00:00:00", sid, voucher_id=voucher["voucher_id"])
    assert tables.commits == commits
    used = FakeUnitOfWork(tables).vouchers.get("acme", voucher["voucher_id"])
    assert used is not None and used.used_by_order == body["order"]["order_id"]
    with pytest.raises(NotFound):
        buy(tables, "2026-03-03T00:00:00", sid, voucher_id="v-nope")


def test_a_purchase_retried_with_its_key_answers_the_first_response_and_charges_once(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-03-01T00:00:00"), cash=100_000)
    idem = Idem.of("p1", "operator:-#purchase", {"edition": "standard"})
    first = buy(tables, "2026-03-02T00:00:00", sid, idem=idem)
    commits = tables.commits
    again = buy(tables, "2026-03-02T00:05:00", sid, idem=idem)
    assert json.dumps(again) == json.dumps(first)
    assert tables.commits == commits  # the retry wrote nothing
    assert len(orders(tables, sid)) == 1 and int(account(tables).cash) == 100_000 - 39_900
    with pytest.raises(Conflict) as err:
        buy(tables, "2026-03-02T00:06:00", sid, "pro", idem=Idem.of("p1", "operator:-#purchase", {"edition": "pro"}))
    assert err.value.code == "idempotency_key_reused"


def test_a_refund_retried_with_its_key_refunds_once(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-02-20T00:00:00"), cash=39_900)
    buy(tables, "2026-03-01T00:00:00", sid)
    idem = Idem.of("r1", "operator:-#refund", {})
    first = refund(tables, "2026-03-11T00:00:00", sid, idem)
    assert json.dumps(refund(tables, "2026-03-12T00:00:00", sid, idem)) == json.dumps(first)
    assert int(account(tables).cash) == 27_029
    assert_ledger_sums_to_balance(tables)


def test_insufficient_balance_writes_nothing(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-03-01T00:00:00"), cash=39_899)
    before = (tables.commits, stored_app(tables, sid).serialize(), account(tables).serialize())
    with pytest.raises(InsufficientBalanceError):
        buy(tables, "2026-03-02T00:00:00", sid, idem=Idem.of("p1", "operator:-#purchase", {}))
    assert (tables.commits, stored_app(tables, sid).serialize(), account(tables).serialize()) == before
    assert orders(tables, sid) == [] and len(ledger(tables)) == 1
    assert FakeUnitOfWork(tables).idempotency.get(Idem.of("p1", "operator:-#purchase", {}).record_key) is None


def test_the_ledger_sums_to_the_balance_over_buys_upgrades_and_refunds(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-01-01T00:00:00"), cash=350_001, gift=70_007)
    other = new_app(tables, at("2026-01-01T00:00:00"))
    buy(tables, "2026-01-02T00:00:00", sid, months=2)
    buy(tables, "2026-01-05T03:00:00", other, "pro", months=3)
    buy(tables, "2026-01-17T11:11:11", sid, "pro")
    refund(tables, "2026-02-03T07:00:00", other)
    buy(tables, "2026-02-04T00:00:00", other)
    refund(tables, "2026-02-09T13:13:13", sid)
    assert_ledger_sums_to_balance(tables)
    assert [o.product for o in orders(tables, sid)] == ["standard", "pro"]


def test_a_top_up_that_clears_arrears_brings_back_the_apps_stopped_for_arrears(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-05-20T00:00:00"), cash=39_900)
    buy(tables, "2026-05-25T00:00:00", sid)  # Standard until 2026-06-25
    expired = new_app(tables, at("2026-05-20T00:00:00"))  # Developer, expires 2026-06-20: stays stopped
    with FakeUnitOfWork(tables) as u:
        acct = u.accounts.get("acme")
        assert acct is not None
        acct.cash, acct.status, acct.arrears_since = -2_518, "arrears", at("2026-06-01T02:00:00")
        u.accounts.save(acct)
        for app_id in (sid, expired):
            app = u.apps.find(app_id)
            app.status, app.stop_reason, app.stopped_at = "stopped", "arrears", at("2026-06-02T02:00:00")
            u.apps.save(app)
        u.commit()
    status, body = accounts.topup(ctx_at(tables, at("2026-06-21T00:00:00")), "acme", 3_000, "cash", NONE, topped_up)
    assert (status, body["balance"]["cash"]) == (201, "4.82")
    assert account(tables).status == "active" and account(tables).arrears_since is None
    assert (stored_app(tables, sid).status, stored_app(tables, sid).stop_reason) == ("enabled", None)
    assert stored_app(tables, expired).status == "stopped"


def test_two_purchases_racing_on_one_balance_sell_only_what_it_covers(tables: FakeStore) -> None:
    """Another purchase commits between our read and our commit: ours is refused, reloaded and decided
    again on the balance the winner left (here: not enough), so nothing of ours is written."""
    first, second = new_app(tables, at("2026-03-01T00:00:00"), cash=39_900), new_app(tables, at("2026-03-01T00:00:00"))
    raced: list[Response] = []

    class Racing(FakeUnitOfWork):
        def _commit(self, writes: list) -> None:  # type: ignore[type-arg]
            if not raced:
                raced.append(buy(tables, "2026-03-02T00:00:00", first))
            super()._commit(writes)

    ctx = make_ctx(now=at("2026-03-02T00:00:00"), tz=UTC_TZ, uow=lambda: Racing(tables))
    with pytest.raises(InsufficientBalanceError):
        purchases.purchase(ctx, second, "standard", 1, None, None, NONE, bought)
    assert raced[0][0] == 201 and orders(tables, second) == [] and stored_app(tables, second).edition == "developer"
    assert int(account(tables).cash) == 0
    assert_ledger_sums_to_balance(tables)


def test_a_customer_buys_only_for_its_own_apps(tables: FakeStore) -> None:
    sid = new_app(tables, at("2026-03-01T00:00:00"), cash=39_900)
    stranger = ctx_at(tables, at("2026-03-02T00:00:00"), Principal("customer", "other"))
    with pytest.raises(NotFound):
        purchases.purchase(stranger, sid, "standard", 1, None, None, NONE, bought)
    _, body = purchases.purchase(ctx_at(tables, at("2026-03-02T00:00:00"), Principal("customer", "acme")), sid,
                                 "standard", 1, None, None, NONE, bought)
    assert body["order"]["account_id"] == "acme"
    page = purchases.list_orders(ctx_at(tables, at("2026-03-02T00:00:00")), sid, 10, None)
    assert [o.order_id for o in page.items] == [body["order"]["order_id"]]
