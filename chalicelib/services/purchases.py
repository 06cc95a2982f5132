"""Buying, renewing, upgrading and refunding a base package (billing-rules sections 4-5). The use cases
store through the unit of work (ctx.uow) and answer records; the API renders them (api/apps.py)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.app import plan_purchase
from chalicelib.domain.errors import Conflict, InsufficientBalanceError, InvalidRequest, NotFound
from chalicelib.domain.money import Cents
from chalicelib.domain.orders import (
    InsufficientBalance,
    Period,
    Refund,
    end_periods_at,
    period_bounds,
    split_prepaid,
    spread,
)
from chalicelib.domain.orders import refund as refund_formula
from chalicelib.services import events, idempotency
from chalicelib.services.apps import ensure_writable, find_app, put, spendable, state, store_app
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import Answer, Idem, Response, Result
from chalicelib.services.ledger import Move, book
from chalicelib.store.dynamodb.models import AccountModel, AppModel, OrderModel, PeriodMap, VoucherModel
from chalicelib.store.port import Page, UnitOfWork


def new_order_id(now: datetime, seq: int = 0) -> str:
    """Sortable by creation: the instant, then the account's ledger sequence (orders bought at the
    same instant, e.g. on the test clock, keep their order), then a random tail."""
    return f"o{now:%Y%m%d%H%M%S%f}{seq:012d}{secrets.token_hex(3)}"


def periods_of(order: OrderModel) -> list[Period]:
    return [
        Period(p.starts_at, p.ends_at, int(p.paid_cash), int(p.paid_gift)) for p in order.periods
    ]


def set_periods(order: OrderModel, periods: list[Period]) -> None:
    order.periods = [
        PeriodMap(starts_at=p.starts_at, ends_at=p.ends_at, paid_cash=p.paid_cash, paid_gift=p.paid_gift)
        for p in periods
    ]
    if periods:
        order.ends_at = max(p.ends_at for p in periods)


@dataclass
class Loaded:
    app: AppModel
    account: AccountModel
    voucher: VoucherModel | None
    done: Response | None


@dataclass(frozen=True)
class Bought:
    """A committed prepaid purchase: the order, the app and account after it, the upgrade credit."""

    order: OrderModel
    app: AppModel
    account: AccountModel
    credit: Refund | None
    at: datetime


@dataclass(frozen=True)
class Quote:
    """What a refund of `product` gives at `at`."""

    product: str
    at: datetime
    refund: Refund


@dataclass(frozen=True)
class Refunded:
    """A committed refund: its quote, the app and account after it."""

    quote: Quote
    app: AppModel
    account: AccountModel


def load_move(ctx: Ctx, uow: UnitOfWork, sdkappid: int, voucher_id: str | None = None) -> Loaded:
    """The app (if the caller may see it), its account and the voucher named, through the unit of work."""
    app = find_app(ctx, uow, sdkappid)
    return Loaded(app=app, account=_account_of(uow, app), voucher=_voucher(uow, app, voucher_id), done=None)


def _account_of(uow: UnitOfWork, app: AppModel) -> AccountModel:
    acct = uow.accounts.get(app.account_id)
    if acct is None:
        raise NotFound(f"account {app.account_id} not found")
    return acct


def _voucher(uow: UnitOfWork, app: AppModel, voucher_id: str | None) -> VoucherModel | None:
    if not voucher_id:
        return None
    voucher = uow.vouchers.get(app.account_id, voucher_id)
    if voucher is None:
        raise NotFound(f"voucher {voucher_id} not found")
    return voucher


def voucher_value(ctx: Ctx, voucher: VoucherModel | None) -> Cents:
    if voucher is None:
        return 0
    if voucher.used_by_order:
        raise Conflict(f"voucher {voucher.voucher_id} was already used by order {voucher.used_by_order}")
    if voucher.expires_at is not None and voucher.expires_at <= ctx.now:
        raise Conflict(f"voucher {voucher.voucher_id} has expired")
    return int(voucher.amount)


def pay(
    uow: UnitOfWork,
    ctx: Ctx,
    loaded: Loaded,
    *,
    product: str,
    kind: str,
    months: int,
    starts_at: datetime,
    monthly_price: Cents,
    bounds: list[tuple[datetime, datetime]],
    credit: Refund | None = None,
    tier: str | None = None,
    quantity: int = 1,
) -> tuple[OrderModel, AccountModel]:
    """Pay a prepaid order (voucher -> cash -> gift, after an optional credit) and write it."""
    acct = loaded.account
    price = monthly_price * months
    voucher = voucher_value(ctx, loaded.voucher)
    credit_cash = credit.cash if credit else 0
    credit_gift = credit.gift if credit else 0
    try:
        cash, gift = spendable(acct)
        pay = split_prepaid(price, voucher, cash + credit_cash, gift + credit_gift)
    except InsufficientBalance as err:
        raise InsufficientBalanceError(f"the balance does not cover {product}: {err}") from None
    order = OrderModel(
        loaded.app.sdkappid,
        new_order_id(ctx.now, int(acct.ledger_seq) + 1),
        account_id=acct.account_id,
        product=product,
        kind=kind,
        tier=tier,
        quantity=quantity,
        months=months,
        starts_at=starts_at,
        ends_at=bounds[-1][1],
        price=price,
        monthly_price=monthly_price,
        voucher_id=loaded.voucher.voucher_id if loaded.voucher else None,
        voucher_amount=pay.voucher,
        paid_cash=pay.cash,
        paid_gift=pay.gift,
        refunded=False,
        created_at=ctx.now,
    )
    set_periods(order, spread(pay.cash, pay.gift, bounds))
    moves = []
    if credit is not None:
        moves.append(Move("credit", credit.cash, credit.gift, ref=f"upgrade:{order.order_id}"))
    moves.append(Move("purchase", -pay.cash, -pay.gift, ref=order.order_id))
    book(ctx, uow, acct, moves)
    uow.orders.add(order)
    if loaded.voucher is not None:
        loaded.voucher.used_by_order = order.order_id
        uow.vouchers.claim(loaded.voucher, "used_by_order")  # a voucher pays one order
    return order, acct


def end_orders(uow: UnitOfWork, orders: list[OrderModel], at: datetime) -> None:
    """The refunded (or credited) periods end at `at`."""
    for o in orders:
        set_periods(o, end_periods_at(periods_of(o), at))
        if not o.periods:
            o.ends_at = at
        o.refunded = True
        o.refunded_at = at
        uow.orders.put(o)


def preview(ctx: Ctx, act: Callable[[UnitOfWork], Result]) -> Result:
    """What `act` would do now, without doing it: the same use case in a unit of work that is
    never committed (a quote is the purchase's own code, not a second pricing)."""
    with ctx.uow() as uow:
        return act(uow)  # leaving the block rolls the registered writes back


def _purchase(ctx: Ctx, sdkappid: int, edition: str, months: int, auto_renew: bool | None,
              voucher_id: str | None) -> Callable[[UnitOfWork], Bought]:
    """The purchase of a base package as one act on a unit of work (bought, or only quoted)."""
    if edition in ctx.catalog.purchasable_editions:  # others: plan_purchase answers 400
        ctx.catalog.check_purchase(edition, months)

    def act(uow: UnitOfWork) -> Bought:
        loaded = load_move(ctx, uow, sdkappid, voucher_id)
        app = loaded.app
        plan = plan_purchase(state(app), edition, ctx.now, ctx.catalog)
        monthly = ctx.catalog.edition(edition).monthly_price
        credit = None
        credited: list[OrderModel] = []
        if plan.upgrade:
            credited = uow.orders.running(int(app.sdkappid), app.edition, ctx.now)
            credit = quote(ctx, credited)
        bounds = period_bounds(plan.starts_at, months, ctx.tz)
        order, acct = pay(
            uow, ctx, loaded, product=edition, kind=plan.kind, months=months,
            starts_at=plan.starts_at, monthly_price=monthly, bounds=bounds, credit=credit,
        )
        end_orders(uow, credited, ctx.now)
        put(app, state(app).purchased(plan, edition, bounds[-1][1], ctx.now, auto_renew))
        store_app(uow, ctx, app)
        events.emit(uow, ctx, events.PURCHASE_TYPES[plan.kind], account_id=app.account_id, sdkappid=sdkappid)
        return Bought(order, app, acct, credit, ctx.now)

    return act


def purchase(
    ctx: Ctx,
    sdkappid: int,
    edition: str,
    months: int,
    auto_renew: bool | None,
    voucher_id: str | None,
    idem: Idem,
    answer: Answer[Bought],
) -> Response:
    return idempotency.once_in(ctx, idem, _purchase(ctx, sdkappid, edition, months, auto_renew, voucher_id), answer)


def purchase_quote(ctx: Ctx, sdkappid: int, edition: str, months: int, auto_renew: bool | None,
                   voucher_id: str | None) -> Bought:
    """What :func:`purchase` would charge now (order, credit, balance after), nothing written."""
    return preview(ctx, _purchase(ctx, sdkappid, edition, months, auto_renew, voucher_id))


def _refund_scope(ctx: Ctx, uow: UnitOfWork, app: AppModel, product: str | None) -> tuple[str, list[OrderModel]]:
    product = product or app.edition
    if product not in ctx.catalog.products:
        raise InvalidRequest(f"unknown product {product!r}")
    if product in ctx.catalog.spec.editions and not ctx.catalog.edition(product).purchasable:
        raise Conflict(f"the {product.capitalize()} edition is free: there is nothing to refund")
    orders = uow.orders.running(int(app.sdkappid), product, ctx.now)
    if not orders:
        raise Conflict(f"app {app.sdkappid} has no running {product} package to refund")
    return product, orders


def quote(ctx: Ctx, orders: list[OrderModel]) -> Refund:
    """The refund formula over the running periods of these orders, each at its own list price."""
    pairs = [(p, int(o.monthly_price)) for o in orders for p in periods_of(o)]
    price = {id(p): monthly for p, monthly in pairs}  # by identity: two orders' periods may start together
    return refund_formula([p for p, _ in pairs], ctx.now, lambda p: price[id(p)])


def refund_quote(ctx: Ctx, sdkappid: int, product: str | None) -> Quote:
    with ctx.uow() as uow:
        app = find_app(ctx, uow, sdkappid, writable=True)
        product, orders = _refund_scope(ctx, uow, app, product)
    return Quote(product, ctx.now, quote(ctx, orders))


def refund(ctx: Ctx, sdkappid: int, product: str | None, idem: Idem, answer: Answer[Refunded]) -> Response:
    """Refund the base package (app -> disabled) or one plugin/add-on (app stays enabled)."""

    def act(uow: UnitOfWork) -> Refunded:
        loaded = load_move(ctx, uow, sdkappid)
        app = ensure_writable(loaded.app)
        name, orders = _refund_scope(ctx, uow, app, product)
        r = quote(ctx, orders)
        acct = loaded.account
        book(ctx, uow, acct, [Move("refund", r.cash, r.gift, ref=",".join(o.order_id for o in orders))])
        end_orders(uow, orders, ctx.now)
        if name == app.edition:
            put(app, state(app).disable(ctx.now))
            store_app(uow, ctx, app)
        else:  # the refunded plugin or add-on line ends now (and its package with it)
            if name in ctx.catalog.spec.plugins:
                app.set_until(name, ctx.now)
            put(app, state(app).extra_ended(name, ctx.now))
            store_app(uow, ctx, app)
        events.emit(uow, ctx, "package.refunded", account_id=app.account_id, sdkappid=sdkappid)
        return Refunded(Quote(name, ctx.now, r), app, acct)

    return idempotency.once_in(ctx, idem, act, answer)


def list_orders(ctx: Ctx, sdkappid: int, limit: int, token: str | None) -> Page[OrderModel]:
    with ctx.uow() as uow:
        find_app(ctx, uow, sdkappid, consistent=False)
        return uow.orders.page(sdkappid, limit, token)
