"""Renewal management on the in-memory unit of work (issue 18; billing-rules 5 "Renewal management",
7): renewal modes, automatic renewal of plugins and add-ons, warnings of auto packages, the packages
view and batch renewal (quote = single renewals bought in order, refused whole, one voucher item,
exactly once after a crash). Exact amounts, UTC and Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.api.accounts import account_created, topped_up, voucher_created
from chalicelib.api.apps import app_created, bought
from chalicelib.domain.errors import Conflict, InsufficientBalanceError, NotFound
from chalicelib.notify import LocalNotifier
from chalicelib.services import accounts, apps, lifecycle, plugins, purchases, renewals
from chalicelib.services.context import Ctx, Principal
from chalicelib.services.idempotency import NONE, Idem, Response
from chalicelib.services.renewals import Item, Reserved
from chalicelib.store.dynamodb.models import AppModel, NotificationModel
from chalicelib.store.port import PackageFilter
from tests.composed import make_ctx
from tests.fakes.uow import FakeStore, FakeUnitOfWork

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC_ZONE = ZoneInfo("UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ctx_at(tables: FakeStore, when: str, tz: ZoneInfo = UTC_ZONE) -> Ctx:
    return make_ctx(now=at(when), tz=tz, uow=tables.uow)


def customer(tables: FakeStore, when: str, tz: ZoneInfo = UTC_ZONE) -> Ctx:
    return make_ctx(now=at(when), tz=tz, uow=tables.uow, principal=Principal("customer", "acme"))


def setup(tables: FakeStore, cash: int, gift: int = 0, when: str = "2026-03-01T00:00:00",
          tz: ZoneInfo = UTC_ZONE) -> Ctx:
    ctx = ctx_at(tables, when, tz)
    accounts.create_account(ctx, "acme", "a@x.test", "+1555", NONE, account_created)
    if cash:
        accounts.topup(ctx, "acme", cash, "cash", NONE, topped_up)
    if gift:
        accounts.topup(ctx, "acme", gift, "gift", NONE, topped_up)
    return ctx


def new_app(ctx: Ctx, edition: str | None = "standard", months: int = 1, auto_renew: bool | None = None,
            name: str = "chat") -> int:
    sid = int(apps.create_app(ctx, "acme", name, "us", NONE, app_created)[1]["sdkappid"])
    if edition is not None:
        purchases.purchase(ctx, sid, edition, months, auto_renew, None, NONE, bought)
    return sid


def app_of(tables: FakeStore, sid: int) -> AppModel:
    found = FakeUnitOfWork(tables).apps.get(sid)
    assert found is not None
    return found


def balance(tables: FakeStore) -> tuple[int, int]:
    acct = FakeUnitOfWork(tables).accounts.get("acme")
    assert acct is not None
    return int(acct.cash), int(acct.gift)


def ledger_sum(tables: FakeStore) -> tuple[int, int]:
    entries = FakeUnitOfWork(tables).ledger.page("acme", 1000, None).items
    return sum(int(e.cash) for e in entries), sum(int(e.gift) for e in entries)


def outbox(tables: FakeStore) -> list[NotificationModel]:
    return FakeUnitOfWork(tables).notifications.page("acme", 1000, None).items


def keep(r: Reserved) -> Response:
    return 201, {"renewal_id": r.batch.renewal_id}


# ------------------------------------------------------------------ renewal modes
def test_modes_of_the_base_package_and_a_plugin_and_what_the_catalog_allows(tables: FakeStore) -> None:
    ctx = setup(tables, 100_000)
    sid = new_app(ctx)
    plugins.buy_plugin(ctx, sid, "push", 1, NONE, bought)
    assert renewals.set_mode(ctx, sid, "standard", "none").renewal == "none"
    assert app_of(tables, sid).auto_renew is False
    assert renewals.set_mode(ctx, sid, "standard", "auto").renewal == "auto"
    assert app_of(tables, sid).auto_renew is True  # the auto-renew flag is the base package's mode auto
    push = renewals.set_mode(ctx, sid, "push", "auto")
    assert (push.slot, push.product, push.renewal) == ("push", "push", "auto")
    assert push.expires_at == at("2026-04-01T00:00:00")
    with pytest.raises(Conflict, match="no search package"):
        renewals.set_mode(ctx, sid, "search", "auto")
    dev = new_app(ctx, edition=None, name="dev")
    with pytest.raises(Conflict, match="Developer"):
        renewals.set_mode(ctx, dev, "developer", "auto")
    assert renewals.set_mode(ctx, dev, "developer", "none").renewal == "none"


def test_an_auto_plugin_renews_at_its_expiry_from_the_old_end_and_is_retried_in_the_grace(
        tables: FakeStore, notifier: LocalNotifier) -> None:
    ctx = setup(tables, 39_900 * 3 + 29_900, tz=SHANGHAI, when="2026-03-10T06:00:00")  # 14:00 in Shanghai
    sid = new_app(ctx, months=3)
    plugins.buy_plugin(ctx, sid, "push", 1, NONE, bought)  # ends 2026-04-10 00:00 +08:00
    renewals.set_mode(ctx, sid, "push", "auto")
    assert app_of(tables, sid).enforce_due_at == at("2026-04-09T16:00:00")
    assert balance(tables) == (0, 0)
    c = ctx_at(tables, "2026-04-09T16:05:00", SHANGHAI)
    assert lifecycle.enforce(c, app_of(tables, sid)) == "renew_failed"
    accounts.topup(c, "acme", 29_900, "gift", NONE, topped_up)
    assert lifecycle.enforce(ctx_at(tables, "2026-04-10T15:05:00", SHANGHAI), app_of(tables, sid)) == "renewed"
    order = FakeUnitOfWork(tables).orders.of_app(sid)[-1]
    assert (order.product, order.kind, order.starts_at, order.ends_at) == (
        "push", "auto_renewal", at("2026-04-09T16:00:00"), at("2026-05-09T16:00:00"))  # May 10 00:00 local
    assert (int(order.paid_cash), int(order.paid_gift)) == (0, 29_900)
    assert app_of(tables, sid).until("push") == at("2026-05-09T16:00:00")
    assert balance(tables) == ledger_sum(tables) == (0, 0)


def test_an_auto_plugin_the_balance_never_covers_is_given_up_after_the_grace(
        tables: FakeStore, notifier: LocalNotifier) -> None:
    ctx = setup(tables, 39_900 * 3 + 29_900)
    sid = new_app(ctx, months=3)
    plugins.buy_plugin(ctx, sid, "push", 1, NONE, bought)
    renewals.set_mode(ctx, sid, "push", "auto")
    assert lifecycle.enforce(ctx_at(tables, "2026-04-01T00:05:00"), app_of(tables, sid)) == "renew_failed"
    assert lifecycle.enforce(ctx_at(tables, "2026-04-02T00:05:00"), app_of(tables, sid)) == "given_up"
    assert app_of(tables, sid).enforce_due_at == at("2026-06-02T00:00:00")  # the base package's stop
    assert len(FakeUnitOfWork(tables).orders.of_app(sid)) == 2


@pytest.mark.parametrize("tz", [ZoneInfo("UTC"), SHANGHAI])
def test_an_auto_package_the_balance_covers_is_not_warned_about(
        tables: FakeStore, notifier: LocalNotifier, tz: ZoneInfo) -> None:
    """The reproduced bug: 1,000.00 cash, Standard with auto_renew: no "renew it or it stops" warnings."""
    ctx = setup(tables, 100_000, tz=tz)
    sid = new_app(ctx, auto_renew=True)
    for day in range(22, 33):
        when = f"2026-03-{day:02d}T01:00:00" if day <= 31 else f"2026-04-{day - 31:02d}T01:00:00"
        lifecycle.warn(ctx_at(tables, when, tz), app_of(tables, sid))
    assert outbox(tables) == []


def test_an_auto_package_the_balance_does_not_cover_is_warned_with_the_shortfall(
        tables: FakeStore, notifier: LocalNotifier) -> None:
    ctx = setup(tables, 50_000)
    sid = new_app(ctx, auto_renew=True)  # 101.00 left
    assert lifecycle.warn(ctx_at(tables, "2026-03-26T01:00:00"), app_of(tables, sid)) == "warned"
    email = outbox(tables)[0]
    assert "Auto-renewal will fail for lack of balance: a month costs 399.00, cash + gift is 101.00, " \
           "298.00 short" in email.body


def test_a_package_in_mode_none_is_never_warned_and_stops_as_usual(
        tables: FakeStore, notifier: LocalNotifier) -> None:
    ctx = setup(tables, 100_000)
    sid = new_app(ctx)
    renewals.set_mode(ctx, sid, "standard", "none")
    assert app_of(tables, sid).warn_due_at is None
    assert lifecycle.enforce(ctx_at(tables, "2026-04-02T00:05:00"), app_of(tables, sid)) == "stopped"
    assert [n.kind for n in outbox(tables)] == ["stopped", "stopped"]


# ------------------------------------------------------------------ the packages view
def test_packages_are_listed_by_expiry_filtered_and_paged(tables: FakeStore) -> None:
    ctx = setup(tables, 1_000_000)
    a = new_app(ctx, months=3, name="a")  # 06-01
    b = new_app(ctx, "pro", 1, name="b")  # 04-01
    plugins.buy_plugin(ctx, b, "search", 2, NONE, bought)  # 05-01
    new_app(ctx, edition=None, name="dev")  # developer, 04-01
    c = customer(tables, "2026-03-01T00:00:00")
    page = renewals.list_packages(c, "acme", PackageFilter(), 100, None)
    assert [(p.sdkappid, p.product, p.expires_at.month) for p in page.items] == [
        (b, "pro", 4), (b + 1, "developer", 4), (b, "search", 5), (a, "standard", 6)]
    first = renewals.list_packages(c, "acme", PackageFilter(), 2, None)
    rest = renewals.list_packages(c, "acme", PackageFilter(), 2, first.next_token)
    assert [p.product for p in first.items + rest.items] == ["pro", "developer", "search", "standard"]
    window = PackageFilter(after=at("2026-04-01T00:00:01"), before=at("2026-06-01T00:00:00"))
    assert [p.product for p in renewals.list_packages(c, "acme", window, 100, None).items] == ["search"]
    renewals.set_mode(ctx, a, "standard", "auto")
    auto = renewals.list_packages(c, "acme", PackageFilter(renewal="auto"), 100, None).items
    assert [(p.sdkappid, p.renewal) for p in auto] == [(a, "auto")]
    with pytest.raises(NotFound):
        renewals.list_packages(make_ctx(now=at("2026-03-01T00:00:00"), tz=ZoneInfo("UTC"), uow=tables.uow,
                                   principal=Principal("customer", "other")), "acme", PackageFilter(), 10, None)


# ------------------------------------------------------------------ batch renewal
def test_a_batch_is_priced_item_after_item_voucher_then_cash_then_gift(tables: FakeStore) -> None:
    ctx = setup(tables, 39_900 + 69_900 + 50_000, 80_000)
    a = new_app(ctx, name="a")
    b = new_app(ctx, "pro", name="b")
    plugins.buy_plugin(ctx, b, "push", 1, NONE, bought)  # cash left 500.00 - 299.00 = 201.00, gift 800.00
    v = accounts.create_voucher(ctx, "acme", 10_000, None, NONE, voucher_created)[1]["voucher_id"]
    c = customer(tables, "2026-03-20T00:00:00")
    items = [Item(b, "push", 1), Item(a, "standard", 2), Item(b, "pro", 1)]
    q = renewals.quote(c, "acme", items, v, 1)
    assert [(p.price, p.voucher, p.cash, p.gift) for p in q.items] == [
        (29_900, 0, 20_100, 9_800), (79_800, 10_000, 0, 69_800), (69_900, 0, 0, 400)]
    assert [(p.starts_at, p.ends_at, p.kind) for p in q.items] == [
        (at("2026-04-01T00:00:00"), at("2026-05-01T00:00:00"), "renewal"),
        (at("2026-04-01T00:00:00"), at("2026-06-01T00:00:00"), "renewal"),
        (at("2026-04-01T00:00:00"), at("2026-05-01T00:00:00"), "renewal")]
    pay = q.payment
    assert (pay.total, pay.cash, pay.gift, pay.voucher, pay.covered, pay.shortfall) == (
        169_600, 20_100, 80_000, 10_000, False, 69_500)
    with pytest.raises(InsufficientBalanceError, match=r"total 1696\.00, shortfall 695\.00"):
        renewals.renew(c, "acme", items, v, 1, NONE, keep)
    assert balance(tables) == (20_100, 80_000)  # refused whole: nothing moved
    assert len(FakeUnitOfWork(tables).orders.of_app(a)) == 1
    accounts.topup(ctx, "acme", 69_500, "cash", NONE, topped_up)
    renewals.renew(c, "acme", items, v, 1, NONE, keep)
    orders = [o for sid in (a, b) for o in FakeUnitOfWork(tables).orders.of_app(sid)]
    assert balance(tables) == ledger_sum(tables) == (0, 0)
    mine = sorted((o for o in orders if o.created_at == at("2026-03-20T00:00:00")), key=lambda o: o.order_id)
    assert [(o.product, o.kind, int(o.paid_cash), int(o.paid_gift), int(o.voucher_amount)) for o in mine] == [
        ("push", "renewal", 29_900, 0, 0), ("standard", "renewal", 59_700, 10_100, 10_000),
        ("pro", "renewal", 0, 69_900, 0)]
    assert (app_of(tables, a).expires_at, app_of(tables, b).expires_at) == (at("2026-06-01T00:00:00"),
                                                                          at("2026-05-01T00:00:00"))
    assert FakeUnitOfWork(tables).vouchers.get("acme", v).used_by_order is not None


def test_an_item_that_cannot_be_renewed_refuses_the_batch_naming_it(tables: FakeStore) -> None:
    ctx = setup(tables, 1_000_000)
    a = new_app(ctx, name="a")
    dev = new_app(ctx, edition=None, name="dev")
    c = customer(tables, "2026-03-20T00:00:00")
    with pytest.raises(Conflict, match=r"items\[1\]: .*Developer"):
        renewals.quote(c, "acme", [Item(a, "standard", 1), Item(dev, "developer", 1)], None, None)
    with pytest.raises(Conflict, match=r"items\[1\]: .* never had search"):
        renewals.renew(c, "acme", [Item(a, "standard", 1), Item(a, "search", 1)], None, None, NONE, keep)
    with pytest.raises(Conflict, match=r"items\[0\]: .*has the standard package, not pro"):
        renewals.quote(c, "acme", [Item(a, "pro", 1)], None, None)
    assert balance(tables) == (1_000_000 - 39_900, 0)


def test_a_stopped_app_is_reactivated_from_now_and_its_plugin_may_follow_in_the_same_batch(
        tables: FakeStore, notifier: LocalNotifier) -> None:
    ctx = setup(tables, 39_900 + 29_900)
    sid = new_app(ctx)
    plugins.buy_plugin(ctx, sid, "push", 1, NONE, bought)
    lifecycle.enforce(ctx_at(tables, "2026-04-02T00:05:00"), app_of(tables, sid))
    assert app_of(tables, sid).status == "stopped"
    accounts.topup(ctx, "acme", 39_900 + 29_900, "cash", NONE, topped_up)
    c = customer(tables, "2026-04-05T12:00:00")
    with pytest.raises(Conflict, match=r"items\[0\]"):  # the plugin needs the app enabled first
        renewals.quote(c, "acme", [Item(sid, "push", 1), Item(sid, "standard", 1)], None, None)
    renewals.renew(c, "acme", [Item(sid, "standard", 1), Item(sid, "push", 1)], None, None, NONE, keep)
    kinds = [(o.product, o.kind, o.starts_at) for o in FakeUnitOfWork(tables).orders.of_app(sid)[-2:]]
    assert kinds == [("standard", "reactivation", at("2026-04-05T12:00:00")),
                     ("push", "renewal", at("2026-04-05T12:00:00"))]
    assert app_of(tables, sid).status == "enabled"
    assert balance(tables) == ledger_sum(tables) == (0, 0)


class Crash(Exception):
    pass


def interrupted_batch(c: Ctx, items: list[Item]) -> None:
    """Renew `items` in one batch (key k1) that crashes after the payment and two items, before item
    2's transaction: the batch stays open."""

    def crash_after_two(i: int) -> None:
        if i == 2:
            raise Crash

    renewals._before_item.append(crash_after_two)
    try:
        with pytest.raises(Crash):
            renewals.renew(c, "acme", items, None, None, Idem.of("k1", "c", {"x": 1}), keep)
    finally:
        renewals._before_item.remove(crash_after_two)


def test_a_batch_interrupted_after_the_payment_and_after_items_finishes_each_item_once(
        tables: FakeStore) -> None:
    ctx = setup(tables, 39_900 * 6)
    sids = [new_app(ctx, name=f"a{i}") for i in range(3)]
    c = customer(tables, "2026-03-20T00:00:00")
    items = [Item(s, "standard", 1) for s in sids]
    interrupted_batch(c, items)
    assert [app_of(tables, s).expires_at.month for s in sids] == [5, 5, 4]
    assert balance(tables) == ledger_sum(tables) == (39_900, 0)
    assert int(FakeUnitOfWork(tables).accounts.get("acme").held_cash) == 39_900  # still held for item 2
    # the retry with the same key answers the first response and finishes the batch
    renewals.renew(c, "acme", items, None, None, Idem.of("k1", "c", {"x": 1}), keep)
    assert [app_of(tables, s).expires_at.month for s in sids] == [5, 5, 5]
    assert balance(tables) == ledger_sum(tables) == (0, 0)
    assert [len(FakeUnitOfWork(tables).orders.of_app(s)) for s in sids] == [2, 2, 2]
    assert FakeUnitOfWork(tables).renewals.open() == []
    assert int(FakeUnitOfWork(tables).accounts.get("acme").held_cash) == 0


# ------------------------------------------------------------------ property: a batch = single renewals in order
PRODUCTS = [("standard", None), ("pro", None), ("push", "plugin"), ("search", "plugin")]


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["base", "push", "search"]), st.integers(1, 3)),
                   min_size=1, max_size=5),  # the same package twice: the second renews after the first
    cash=st.integers(0, 400_000), gift=st.integers(0, 400_000), voucher=st.sampled_from([None, 0, 1, 2]),
    shanghai=st.booleans(),
)
def test_a_batch_quote_is_the_sum_of_single_renewals_bought_in_order(
        picks: list[tuple[int, str, int]], cash: int, gift: int, voucher: int | None, shanghai: bool) -> None:
    tz = SHANGHAI if shanghai else ZoneInfo("UTC")
    # a single plugin/add-on purchase takes no voucher: the voucher goes on a base package item
    voucher_item = None if voucher is None or voucher >= len(picks) or picks[voucher][1] != "base" else voucher

    def world() -> tuple[FakeStore, list[int], str | None]:
        tables = FakeStore()
        ctx = setup(tables, 10_000_000, tz=tz, when="2026-01-31T08:00:00")
        sids = [new_app(ctx, edition, name=f"a{i}") for i, edition in enumerate(["standard", "pro", "standard"])]
        for sid in sids:
            plugins.buy_plugin(ctx, sid, "push", 1, NONE, bought)
            plugins.buy_plugin(ctx, sid, "search", 1, NONE, bought)
        v = accounts.create_voucher(ctx, "acme", 50_000, None, NONE, voucher_created)[1]["voucher_id"]
        with FakeUnitOfWork(tables) as u:  # the balance under test
            acct = u.accounts.get("acme")
            acct.cash, acct.gift = cash, gift
            u.accounts.save(acct)
            u.commit()
        return tables, sids, v

    tables, sids, v = world()
    editions = ["standard", "pro", "standard"]
    items = [Item(sids[i], editions[i] if what == "base" else what, months) for i, what, months in picks]
    c = customer(tables, "2026-02-20T10:00:00", tz)
    q = renewals.quote(c, "acme", items, v if voucher_item is not None else None, voucher_item)
    # the same renewals bought one by one, in order, on a copy of the world
    single, ssids, sv = world()
    sc = customer(single, "2026-02-20T10:00:00", tz)
    bought_one_by_one = []
    short = False
    for n, it in enumerate(items):
        sid = ssids[sids.index(it.sdkappid)]
        vid = sv if n == voucher_item else None
        try:
            if it.product in ("standard", "pro"):
                r = purchases.purchase(sc, sid, it.product, it.months, None, vid, NONE, bought)[1]["order"]
            else:
                r = plugins.buy_plugin(sc, sid, it.product, it.months, NONE, bought)[1]["order"]
        except InsufficientBalanceError:
            short = True
            break
        bought_one_by_one.append((r["price"], r["voucher_amount"], r["paid_cash"], r["paid_gift"],
                                  r["starts_at"], r["ends_at"]))
    fmt2 = lambda c: f"{c // 100}.{c % 100:02d}"  # noqa: E731
    from chalicelib.domain.calendar import iso
    assert q.payment.covered == (not short)
    if not short:
        assert [(fmt2(p.price), fmt2(p.voucher), fmt2(p.cash), fmt2(p.gift), iso(p.starts_at), iso(p.ends_at))
                for p in q.items] == bought_one_by_one
        renewals.renew(c, "acme", items, v if voucher_item is not None else None, voucher_item, NONE, keep)
        assert balance(tables) == balance(single)
    else:
        with pytest.raises(InsufficientBalanceError):
            renewals.renew(c, "acme", items, v if voucher_item is not None else None, voucher_item, NONE, keep)
        assert balance(tables) == (cash, gift)


def test_a_batch_paid_but_contended_answers_its_orders_and_is_finished_later(tables: FakeStore) -> None:
    from chalicelib.store.port import Contention

    ctx = setup(tables, 39_900 * 4)
    sids = [new_app(ctx, name=f"a{i}") for i in range(2)]
    c = customer(tables, "2026-03-20T00:00:00")

    def contended(i: int) -> None:
        if i == 1:
            raise Contention("busy")

    renewals._before_item.append(contended)
    try:
        status, body = renewals.renew(c, "acme", [Item(s, "standard", 1) for s in sids], None, None, NONE, keep)
    finally:
        renewals._before_item.remove(contended)
    assert status == 201  # paid: not a 503 that a retry without a key would pay twice
    assert [app_of(tables, s).expires_at.month for s in sids] == [5, 4]
    (batch,) = FakeUnitOfWork(tables).renewals.open()
    assert renewals.finish_open(c, batch) == "finished"
    assert [app_of(tables, s).expires_at.month for s in sids] == [5, 5]
    assert balance(tables) == ledger_sum(tables) == (0, 0)
