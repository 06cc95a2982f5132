"""The repository contract: the same cases against the in-memory unit of work and DynamoDB (moto, and
DynamoDB Local in the ddblocal pass), so service tests on the fake hold for the real store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import NotFound
from chalicelib.store.dynamodb.adapter import DynamoUnitOfWork
from chalicelib.store.dynamodb.models import (
    AccountModel,
    AppModel,
    LedgerModel,
    NotificationModel,
    OrderModel,
    VoucherModel,
    due_shard,
)
from chalicelib.store.dynamodb.usage_models import BillModel, UsageModel
from chalicelib.store.port import Counts, UnitOfWork, WriteConflict
from tests.fakes.uow import FakeStore

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


def app(sdkappid: int, account_id: str = "acme") -> AppModel:
    return AppModel(sdkappid, account_id=account_id, name=f"app{sdkappid}", region="us", edition="developer",
                    status="enabled", expires_at=NOW + timedelta(days=30), created_at=NOW, version=0, due_shard="0")


def order(sdkappid: int, order_id: str, product: str = "standard", ends_in_days: int = 30,
          refunded: bool = False) -> OrderModel:
    return OrderModel(sdkappid, order_id, account_id="acme", product=product, kind="new", months=1, starts_at=NOW,
                      ends_at=NOW + timedelta(days=ends_in_days), price=100, monthly_price=100, paid_cash=100,
                      paid_gift=0, refunded=refunded, created_at=NOW)


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


def test_many_reads_the_records_of_the_keys_that_exist(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        for account_id in ("a", "b", "c"):
            u.accounts.add(account(account_id))
        u.ledger.add(entry(1, "a"))
        u.ledger.add(entry(2, "a"))
        u.commit()
    with uow() as u:
        assert sorted(a.account_id for a in u.accounts.many([("c",), ("missing",), ("a",)])) == ["a", "c"]
        assert u.accounts.many([]) == []
        assert sorted(int(e.seq) for e in u.ledger.many([("a", 2), ("a", 3), ("a", 1)])) == [1, 2]


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


def test_an_app_is_found_only_by_its_owner_and_listed_by_account(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        for sid, owner in [(1_400_000_003, "acme"), (1_400_000_001, "acme"), (1_400_000_002, "other"),
                           (1_400_000_005, "acme")]:
            u.apps.add(app(sid, owner))
        u.commit()
    with uow() as u:
        assert u.apps.find(1_400_000_001).name == "app1400000001"  # no owner named: an operator
        assert u.apps.find(1_400_000_001, "acme").account_id == "acme"
        with pytest.raises(NotFound):
            u.apps.find(1_400_000_002, "acme")  # another account's app is not found
        with pytest.raises(NotFound):
            u.apps.find(1_400_000_009)
        seen: list[int] = []
        token = None
        while True:
            page = u.apps.of_account("acme", 2, token)
            seen += [int(a.sdkappid) for a in page.items]
            token = page.next_token
            if token is None:
                break
    assert seen == [1_400_000_001, 1_400_000_003, 1_400_000_005]


def test_new_sdkappids_are_never_reused(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        ids = [u.apps.next_sdkappid() for _ in range(3)]
    with uow() as u:
        ids.append(u.apps.next_sdkappid())  # taken at once: a rolled-back attempt still used its id
    assert len(set(ids)) == 4 and all(i > 1_400_000_000 for i in ids)


def test_running_orders_are_the_product_s_unrefunded_orders_not_yet_ended(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.orders.add(order(7, "o1"))
        u.orders.add(order(7, "o2", ends_in_days=-1))  # ended
        u.orders.add(order(7, "o3", refunded=True))
        u.orders.add(order(7, "o4", product="push"))
        u.orders.add(order(8, "o5"))  # another app
        u.orders.add(order(7, "o6"))
        u.commit()
    with uow() as u:
        assert [o.order_id for o in u.orders.of_app(7)] == ["o1", "o2", "o3", "o4", "o6"]
        assert [o.order_id for o in u.orders.running(7, "standard", NOW)] == ["o1", "o6"]
        assert [o.order_id for o in u.orders.unended(7, NOW)] == ["o1", "o3", "o4", "o6"]  # refunded too
        ended = u.orders.get(7, "o1")
        assert ended is not None
        ended.refunded = True
        u.orders.put(ended)  # whatever is stored
        u.commit()
    with uow() as u:
        assert [o.order_id for o in u.orders.running(7, "standard", NOW)] == ["o6"]


def test_a_claim_writes_only_while_the_attribute_is_unset(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.vouchers.add(VoucherModel("acme", "v1", amount=500, created_at=NOW))
        u.commit()
    with uow() as first, uow() as second:
        a, b = first.vouchers.get("acme", "v1"), second.vouchers.get("acme", "v1")
        assert a is not None and b is not None
        a.used_by_order = "o1"
        first.vouchers.claim(a, "used_by_order")
        first.commit()
        b.used_by_order = "o2"
        second.vouchers.claim(b, "used_by_order")
        second.ledger.add(entry(1))
        with pytest.raises(WriteConflict):
            second.commit()
    with uow() as u:
        assert u.vouchers.get("acme", "v1").used_by_order == "o1"  # type: ignore[union-attr]
        assert u.ledger.get("acme", 1) is None


def test_notifications_are_added_in_the_commit_and_marked_after_it(uow: Callable[[], UnitOfWork]) -> None:
    note = NotificationModel("acme", "20260310T093000Z#bill#-#email", at=NOW, kind="bill", channel="email",
                             to="a@x.test", subject="s", body="b", status="pending", due_shard="0")
    with uow() as u:
        u.notifications.add(note)
    with uow() as u:
        assert u.notifications.get("acme", note.notification_id) is None  # not committed: not recorded
        u.notifications.add(note)
        u.commit()
    note.status = "sent"
    with uow() as u:
        u.notifications.mark([note])  # at once, no commit
        stored = u.notifications.get("acme", note.notification_id)
        assert stored is not None and stored.status == "sent"


def test_a_bill_is_added_once_with_the_charge_that_posts_it(uow: Callable[[], UnitOfWork]) -> None:
    def post(cash: int) -> None:
        with uow() as u:
            acct = u.accounts.get("acme")
            assert acct is not None
            acct.cash = int(acct.cash) - cash
            u.bills.add(BillModel("acme", "2026-03#monthly", kind="monthly", period="2026-03", total=cash,
                                  posted_at=NOW, charged_cash=cash, charged_gift=0, lines=[]))
            u.accounts.save(acct)
            u.commit()

    with uow() as u:
        u.accounts.add(account())
        u.commit()
    post(300)
    with pytest.raises(WriteConflict):  # posted already: neither the bill nor the charge is written again
        post(300)
    with uow() as u:
        stored = u.bills.get("acme", "2026-03#monthly")
        acct = u.accounts.get("acme")
        assert stored is not None and int(stored.total) == 300
        assert acct is not None and (int(acct.cash), int(acct.version)) == (-300, 1)


def test_a_lease_moves_a_pending_notification_only_from_the_due_time_read(uow: Callable[[], UnitOfWork]) -> None:
    note = NotificationModel("acme", "20260310T093000Z#bill#-#sms", at=NOW, kind="bill", channel="sms",
                             to="+15550100", subject="s", body="b", status="pending", due_shard="0",
                             send_due_at=NOW)
    with uow() as u:
        u.notifications.add(note)
        u.commit()
    stale = NotificationModel.from_raw_data(note.serialize())
    with uow() as u:
        u.notifications.lease(note, NOW + timedelta(minutes=5))  # at once, no commit
        assert note.send_due_at == NOW + timedelta(minutes=5)
        stored = u.notifications.get("acme", note.notification_id)
        assert stored is not None and stored.send_due_at == NOW + timedelta(minutes=5)
        with pytest.raises(WriteConflict):  # the copy read before the lease is stale
            u.notifications.lease(stale, NOW + timedelta(minutes=10))
        gone = NotificationModel("acme", "20260310T093000Z#bill#-#email", send_due_at=NOW)
        with pytest.raises(WriteConflict):  # never stored (or deleted): nothing comes back
            u.notifications.lease(gone, NOW + timedelta(minutes=10))
        stored = u.notifications.get("acme", note.notification_id)
        assert stored is not None and stored.send_due_at == NOW + timedelta(minutes=5)
        assert u.notifications.get("acme", gone.notification_id) is None


def test_bills_are_paged_by_exact_period(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        for key in ("2026-03#monthly", "2026-03-11#daily", "2026-03-12#daily", "2026-04#monthly"):
            period, kind = key.split("#")
            u.bills.add(BillModel("acme", key, kind=kind, period=period, total=1, posted_at=NOW, charged_cash=1,
                                  charged_gift=0, lines=[]))
        u.commit()
    with uow() as u:
        assert [b.bill_key for b in u.bills.of_period("acme", "2026-03", 10, None).items] == ["2026-03#monthly"]
        first = u.bills.of_period("acme", None, 3, None)
        rest = u.bills.of_period("acme", None, 3, first.next_token)
        assert [b.bill_key for b in first.items] == ["2026-03#monthly", "2026-03-11#daily", "2026-03-12#daily"]
        assert [b.bill_key for b in rest.items] == ["2026-04#monthly"] and rest.next_token is None


# ------------------------------------------------------------------ usage, user sets, close markers
EXPIRES = NOW + timedelta(days=430)


def counts(sdkappid: int, period: str, add: dict[str, int], account_id: str = "acme",
           within: tuple[str, int] | None = None) -> Counts:
    return Counts(sdkappid, period, account_id, EXPIRES, add, within)


def test_counts_add_up_create_the_record_and_carry_its_identity(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.usage.count(counts(7, "2026-03", {"mau": 2, "push.messages": 5}))
        u.usage.count(counts(7, "2026-03-10", {"push.calls": 3}))
        u.commit()
        after = u.usage.count_now(counts(7, "2026-03", {"search.requests": 4, "calls.minutes": 6}))
        assert (int(after.mau), int(after.push_messages)) == (2, 5)  # the record after the write, at once
        assert after.counters() == {"push.messages": 5, "search.stored_messages": 0, "search.requests": 4,
                                    "calls.minutes": 6}
        again = u.usage.count_now(counts(7, "2026-03", {"calls.minutes": 1}))
        assert again.counters()["calls.minutes"] == 7
        month, day = u.usage.get(7, "2026-03"), u.usage.get(7, "2026-03-10")
    assert month is not None and day is not None
    assert (month.account_id, month.month_shard, month.account_app, month.expires) == (
        "acme", f"2026-03#{due_shard('acme')}", "acme#7", EXPIRES)
    assert (int(day.push_calls), day.account_id, day.month_shard, day.account_app) == (3, "acme", None, None)


def test_a_count_within_a_limit_fails_the_whole_commit_beyond_it(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.usage.count(counts(7, "2026-03-10", {"push.calls": 150}, within=("push.calls", 150)))  # unset: room
        u.commit()
        u.usage.count(counts(7, "2026-03", {"push.messages": 1}))
        u.usage.count(counts(7, "2026-03-10", {"push.calls": 1}, within=("push.calls", 150)))
        with pytest.raises(WriteConflict) as lost:
            u.commit()
        assert [type(r) for r in lost.value.failed] == [UsageModel]
        assert u.usage.get(7, "2026-03") is None and int(u.usage.get(7, "2026-03-10").push_calls) == 150  # type: ignore[union-attr]


def test_a_user_is_seen_once_a_month_and_a_commit_names_those_seen_already(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        for user in ("a", "b"):
            u.users.see(7, "2026-03", user, EXPIRES)
        u.usage.count(counts(7, "2026-03", {"mau": 2}))
        u.commit()
        for user in ("c", "b", "a"):
            u.users.see(7, "2026-03", user, EXPIRES)
        u.usage.count(counts(7, "2026-03", {"mau": 3}))
        with pytest.raises(WriteConflict) as lost:
            u.commit()
        assert u.users.lost(lost.value) == {"a", "b"}
        assert u.users.seen(7, "2026-03", ["a", "c", "b"]) == {"a", "b"}
        assert u.users.seen(7, "2026-03", ["b", "z"], whole=True) == {"b"}
        assert u.users.seen(7, "2026-04", ["a"]) == set() and int(u.usage.get(7, "2026-03").mau) == 2  # type: ignore[union-attr]


def test_a_close_marker_only_moves_forward_and_fails_a_commit_of_a_closed_period(
        uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        assert u.periods.closed_through("closed-month") is None
        u.periods.check_open("closed-month", "2026-02")
        u.usage.count(counts(7, "2026-02", {"mau": 1}))
        u.commit()  # open: written
        u.periods.close("closed-month", "2026-02")
        u.periods.close("closed-month", "2026-01")  # never back
        u.periods.close("closed-month", "2026-02")  # idempotent
        assert u.periods.closed_through("closed-month") == "2026-02"
        u.periods.check_open("closed-month", "2026-02")
        u.usage.count(counts(7, "2026-02", {"mau": 1}))
        with pytest.raises(WriteConflict):
            u.commit()
        u.periods.check_open("closed-month", "2026-03")
        u.usage.count(counts(7, "2026-03", {"mau": 1}))
        u.commit()
        assert [int(r.mau) for r in u.usage.many([(7, "2026-02"), (7, "2026-03"), (7, "2026-04")])] == [1, 1]
        assert u.periods.closed_through("closed-push-day") is None


def test_a_month_is_listed_by_account_and_a_reclaimed_app_keeps_only_unbilled_records(
        uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        for sid, owner in [(9, "zeta"), (7, "acme"), (8, "acme")]:
            u.users.see(sid, "2026-03", "a", EXPIRES)
            u.usage.count(counts(sid, "2026-03", {"mau": 1}, account_id=owner))
        u.usage.count(counts(7, "2026-02", {"push.messages": 1}))
        u.usage.count(counts(7, "2026-03-10", {"push.calls": 1}))
        u.commit()
        assert [(r.period, int(r.push_calls)) for r in u.usage.of_month(7, "2026-03")] == [("2026-03", 0),
                                                                                           ("2026-03-10", 1)]
        shard = int(due_shard("acme"))
        assert [r.account_app for r in u.usage.by_month("2026-03", shard, None)
                if r.account_id == "acme"] == ["acme#7", "acme#8"]
        assert [r.account_id for r in u.usage.by_month("2026-03", shard, "acme")] == [
            a for a in ["zeta"] if int(due_shard(a)) == shard]
        # reclaimed: March is not settled yet (kept unbilled), February is
        assert u.usage.reclaim(7, lambda month: month == "2026-03") == 4  # 1 user + 3 records
        assert u.usage.of_month(7, "2026-03") == [] and u.users.seen(7, "2026-03", ["a"]) == set()
        unbilled = [r for r in u.usage.by_month("2026-03", shard, None) if int(r.sdkappid) == 7]
        assert [(r.period, int(r.mau)) for r in unbilled] == [("2026-03#unbilled", 1)]
        assert u.usage.reclaim(7, lambda month: True) == 0  # again: the unbilled record stays
        assert u.usage.delete(unbilled) == 1
        assert u.usage.many([(7, "2026-03#unbilled")]) == [] and u.users.seen(8, "2026-03", ["a"]) == {"a"}


def test_the_push_billing_index_lists_the_apps_with_a_shard(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        for sid, shard in [(3, "1"), (1, None), (2, "0"), (4, "0")]:
            a = app(sid)
            a.push_billing_shard = shard
            u.apps.add(a)
        u.commit()
    with uow() as u:
        assert sorted(int(a.sdkappid) for a in u.apps.push_billing()) == [2, 3, 4]


def test_an_app_s_notifications_are_deleted_but_those_kept(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        for i, (sid, kind) in enumerate([(7, "bill"), (7, "reclaimed"), (8, "bill"), (7, "expiry")]):
            u.notifications.add(NotificationModel("acme", f"2026031{i}T093000Z#{kind}#{sid}#email", at=NOW,
                                                  kind=kind, channel="email", to="a@x.test", subject="s", body="b",
                                                  status="sent", sdkappid=sid))
        u.commit()
    with uow() as u:
        assert u.notifications.delete_of_app(7, keep=lambda n: n.kind == "reclaimed") == 2
        assert [(int(n.sdkappid), n.kind) for n in u.notifications.page("acme", 10, None).items] == [
            (7, "reclaimed"), (8, "bill")]
