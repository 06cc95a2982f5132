"""Buying, renewing, upgrading and refunding a base package (billing-rules sections 4-5)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.app import plan_purchase
from chalicelib.domain.calendar import iso
from chalicelib.domain.errors import Conflict, InsufficientBalanceError, InvalidRequest, NotFound
from chalicelib.domain.money import Cents, fmt
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
from chalicelib.domain.plugins import ADDONS, PLUGINS
from chalicelib.services import idempotency
from chalicelib.services.apps import ensure_writable, load_app, put, save_app, state
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import Idem, Response
from chalicelib.services.ledger import Move, post
from chalicelib.store import uow, views
from chalicelib.store.models import AccountModel, AppModel, OrderModel, PeriodMap, VoucherModel
from chalicelib.store.paging import page

PLUGIN_UNTIL = {"push": "push_until", "search": "search_until"}  # app attribute: end of the plugin's periods


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


def running_orders(sdkappid: int, product: str, now: datetime) -> list[OrderModel]:
    """Orders of a product whose periods have not all ended (the refundable ones)."""
    return [
        o
        for o in OrderModel.query(sdkappid, consistent_read=True)
        if o.product == product and not o.refunded and o.ends_at > now
    ]


@dataclass
class Loaded:
    app: AppModel
    account: AccountModel
    voucher: VoucherModel | None
    done: Response | None


def load_for_money_move(ctx: Ctx, sdkappid: int, idem: Idem, voucher_id: str | None = None) -> Loaded:
    """App (1 GetItem), then account + idempotency record + voucher in one TransactGetItems."""
    app = load_app(ctx, sdkappid)
    with uow.read() as tg:
        acct_f = tg.get(AccountModel, app.account_id)
        idem_f = idempotency.fetch(tg, idem)
        voucher_f = tg.get(VoucherModel, app.account_id, voucher_id) if voucher_id else None
    done = idempotency.resolve(idem_f, idem)
    voucher = None
    if voucher_f is not None and done is None:
        try:
            voucher = voucher_f.get()
        except VoucherModel.DoesNotExist:
            raise NotFound(f"voucher {voucher_id} not found") from None
    return Loaded(app=app, account=acct_f.get(), voucher=voucher, done=done)


def voucher_value(ctx: Ctx, voucher: VoucherModel | None) -> Cents:
    if voucher is None:
        return 0
    if voucher.used_by_order:
        raise Conflict(f"voucher {voucher.voucher_id} was already used by order {voucher.used_by_order}")
    if voucher.expires_at is not None and voucher.expires_at <= ctx.now:
        raise Conflict(f"voucher {voucher.voucher_id} has expired")
    return int(voucher.amount)


def charge(
    tx: Any,
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
        pay = split_prepaid(price, voucher, int(acct.cash) + credit_cash, int(acct.gift) + credit_gift)
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
    post(tx, acct, moves, ctx.now)
    tx.save(order, condition=OrderModel.order_id.does_not_exist())
    if loaded.voucher is not None:
        loaded.voucher.used_by_order = order.order_id
        tx.save(loaded.voucher, condition=VoucherModel.used_by_order.does_not_exist())
    return order, acct


def answer(ctx: Ctx, order: OrderModel, app: AppModel, acct: AccountModel,
           credit: Refund | None = None) -> Response:
    """201 {"order", "app", "balance", "credit"}: the answer of every prepaid purchase."""
    return (
        201,
        {
            "order": views.order(order, ctx.now),
            "app": views.app(app),
            "balance": views.balance(int(acct.cash), int(acct.gift)),
            "credit": views.money3(credit.cash, credit.gift) if credit is not None else None,
        },
    )


def end_orders(tx: Any, orders: list[OrderModel], at: datetime) -> None:
    """The refunded (or credited) periods end at `at`."""
    for o in orders:
        set_periods(o, end_periods_at(periods_of(o), at))
        if not o.periods:
            o.ends_at = at
        o.refunded = True
        o.refunded_at = at
        tx.save(o)


def purchase(
    ctx: Ctx,
    sdkappid: int,
    edition: str,
    months: int,
    auto_renew: bool | None,
    voucher_id: str | None,
    idem: Idem,
) -> Response:
    ttl = ctx.catalog.lifecycle("idempotency_ttl_hours")

    def attempt() -> Response:
        loaded = load_for_money_move(ctx, sdkappid, idem, voucher_id)
        if loaded.done is not None:
            return loaded.done
        app = loaded.app
        plan = plan_purchase(state(app), edition, ctx.now, ctx.catalog)
        monthly = ctx.catalog.edition(edition).monthly_price
        credit = None
        credited: list[OrderModel] = []
        if plan.upgrade:
            credited = running_orders(int(app.sdkappid), app.edition, ctx.now)
            credit = quote(ctx, credited)
        bounds = period_bounds(plan.starts_at, months, ctx.tz)
        with uow.write() as tx:
            order, acct = charge(
                tx, ctx, loaded, product=edition, kind=plan.kind, months=months,
                starts_at=plan.starts_at, monthly_price=monthly, bounds=bounds, credit=credit,
            )
            end_orders(tx, credited, ctx.now)
            put(app, state(app).purchased(plan, edition, bounds[-1][1], ctx.now, auto_renew))
            save_app(tx, ctx, app)
            response = answer(ctx, order, app, acct, credit)
            idempotency.record(tx, idem, response, ctx.now, ttl)
        return response

    return idempotency.run(idem, attempt)


def _refund_scope(ctx: Ctx, app: AppModel, product: str | None) -> tuple[str, list[OrderModel]]:
    product = product or app.edition
    if product not in (*ctx.catalog.raw["editions"], *PLUGINS, *ADDONS):
        raise InvalidRequest(f"unknown product {product!r}")
    if product == "developer":
        raise Conflict("the Developer edition is free: there is nothing to refund")
    orders = running_orders(int(app.sdkappid), product, ctx.now)
    if not orders:
        raise Conflict(f"app {app.sdkappid} has no running {product} package to refund")
    return product, orders


def quote(ctx: Ctx, orders: list[OrderModel]) -> Refund:
    """The refund formula over the running periods of these orders, each at its own list price."""
    pairs = [(p, int(o.monthly_price)) for o in orders for p in periods_of(o)]
    price = {id(p): monthly for p, monthly in pairs}  # by identity: two orders' periods may start together
    return refund_formula([p for p, _ in pairs], ctx.now, lambda p: price[id(p)])


def quote_view(product: str, at: datetime, r: Refund) -> dict[str, Any]:
    return {
        "product": product,
        "at": iso(at),
        "current_amount": fmt(r.current_amount),
        "not_started_amount": fmt(r.not_started_amount),
        "used_value": fmt(r.used_value),
        "total": fmt(r.total),
        "cash": fmt(r.cash),
        "gift": fmt(r.gift),
    }


def refund_quote(ctx: Ctx, sdkappid: int, product: str | None) -> dict[str, Any]:
    app = load_app(ctx, sdkappid, writable=True)
    product, orders = _refund_scope(ctx, app, product)
    return quote_view(product, ctx.now, quote(ctx, orders))


def refund(ctx: Ctx, sdkappid: int, product: str | None, idem: Idem) -> Response:
    """Refund the base package (app -> disabled) or one plugin/add-on (app stays enabled)."""
    ttl = ctx.catalog.lifecycle("idempotency_ttl_hours")

    def attempt() -> Response:
        loaded = load_for_money_move(ctx, sdkappid, idem)
        if loaded.done is not None:
            return loaded.done
        app = ensure_writable(loaded.app)
        name, orders = _refund_scope(ctx, app, product)
        r = quote(ctx, orders)
        acct = loaded.account
        with uow.write() as tx:
            post(tx, acct, [Move("refund", r.cash, r.gift, ref=",".join(o.order_id for o in orders))], ctx.now)
            end_orders(tx, orders, ctx.now)
            if name == app.edition:
                put(app, state(app).disable(ctx.now))
                save_app(tx, ctx, app)
            elif name in PLUGIN_UNTIL:  # the refunded plugin ends now
                setattr(app, PLUGIN_UNTIL[name], ctx.now)
                save_app(tx, ctx, app)
            response: Response = (
                201,
                {
                    "refund": quote_view(name, ctx.now, r),
                    "app": views.app(app),
                    "balance": views.balance(int(acct.cash), int(acct.gift)),
                },
            )
            idempotency.record(tx, idem, response, ctx.now, ttl)
        return response

    return idempotency.run(idem, attempt)


def list_orders(ctx: Ctx, sdkappid: int, limit: int, token: str | None) -> dict[str, Any]:
    load_app(ctx, sdkappid, consistent=False)
    return page(OrderModel.query, sdkappid, lambda o: views.order(o, ctx.now), limit, token)
