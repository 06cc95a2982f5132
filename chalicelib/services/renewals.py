"""Renewal management (billing-rules 5 "Renewal management"): renewal modes, the packages view, and
batch renewal with a quote. The batch is priced with the single purchase's own rules (plan_purchase,
plan_start, the period rules, split_prepaid) item after item, in the order given.

A batch of up to 100 items does not fit one DynamoDB transaction (100 items at most), so it is paid
in one and applied in others (docs/data-model.md, "Batch renewal"):

1. *reserve*: one transaction writes the batch (every item planned: its order id, periods and
   payment), holds the total on the account (`held_cash`/`held_gift`: not spendable by any other
   prepaid charge), claims the voucher and records the Idempotency-Key's answer;
2. *apply*: each item is then its own transaction: its order, its ledger entry (the balance moves
   and the hold shrinks by the item's cash and gift), the app, and the batch's mark for the item,
   conditioned on the batch's version (an item already marked is never applied again);
3. a batch left open by a crash (the sparse `open_batches` index) is finished by a retry with the
   same Idempotency-Key, or by the `renewal-batches` job.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib import shapes
from chalicelib.domain.app import AppState, PurchasePlan, Status, plan_purchase
from chalicelib.domain.calendar import iso, parse_instant
from chalicelib.domain.errors import BillingError, Conflict, Gone, InsufficientBalanceError, InvalidRequest, NotFound
from chalicelib.domain.money import Cents, fmt
from chalicelib.domain.orders import period_bounds, spread
from chalicelib.domain.plugins import Held, Line, monthly_price, plan_start
from chalicelib.domain.plugins import period_bounds as line_bounds
from chalicelib.domain.renewal import BASE, BatchPayment, Mode, pay_batch
from chalicelib.services import events, idempotency
from chalicelib.services.accounts import load_account
from chalicelib.services.apps import change_app, put, spendable, state, store_app
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import Answer, Idem, Response
from chalicelib.services.ledger import Move, book
from chalicelib.services.plugins import grant, held
from chalicelib.services.purchases import new_order_id, set_periods, voucher_value
from chalicelib.store.dynamodb.models import (
    AccountModel,
    AppModel,
    OrderModel,
    PackageModel,
    RenewalBatchModel,
    due_shard,
)
from chalicelib.store.port import Contention, PackageFilter, Page, UnitOfWork, WriteConflict, with_retries

MAX_ITEMS = 100
log = logging.getLogger("imbill.renewals")


# ------------------------------------------------------------------ renewal modes and the packages view
def package_of(uow: UnitOfWork, app: AppModel, product: str) -> PackageModel:
    slot = BASE if product == app.edition else product
    found = uow.packages.get(int(app.sdkappid), slot)
    if found is None:
        raise NotFound(f"app {app.sdkappid} has no {product} package")
    return found


def set_mode(ctx: Ctx, sdkappid: int, product: str, mode: str) -> PackageModel:
    """PUT /v1/apps/{id}/renewal: the mode of the base package (`product` its edition) or of a
    plugin/add-on line the app has had; answers its package."""
    chosen = Mode(mode)
    changed: list[AppModel] = []

    def change(app: AppModel) -> None:
        put(app, state(app).with_mode(sdkappid, product, chosen, ctx.catalog))
        changed[:] = [app]

    def answer(app: AppModel) -> Response:
        return 200, shapes.app(app)  # the event's data: the app after the change

    change_app(ctx, sdkappid, change, idempotency.NONE, answer, "package.renewal_mode_changed")
    with ctx.uow() as uow:
        return package_of(uow, changed[0], product)


def list_packages(ctx: Ctx, account_id: str, where: PackageFilter, limit: int,
                  token: str | None) -> Page[PackageModel]:
    ctx.principal.check_account(account_id)
    if where.renewal is not None and where.renewal not in {m.value for m in Mode}:
        raise InvalidRequest("renewal must be auto, manual or none")
    with ctx.uow() as uow:
        return uow.packages.by_expiry(account_id, where, limit, token)


def package_price(ctx: Ctx, p: PackageModel) -> Cents:
    """The monthly price of a package (the catalog's, for its tier and quantity)."""
    if p.product in ctx.catalog.spec.editions:
        return ctx.catalog.edition(p.product).monthly_price
    return monthly_price(ctx.catalog, Line(p.product, p.tier, int(p.quantity)))


# ------------------------------------------------------------------ batch renewal: planning
@dataclass(frozen=True)
class Item:
    """One requested renewal."""

    sdkappid: int
    product: str
    months: int


@dataclass(frozen=True)
class Planned:
    """One item as it will be bought: the order it becomes and what the app had before it (an item
    is applied only over that: a package changed meanwhile is not renewed twice)."""

    sdkappid: int
    product: str
    tier: str | None
    quantity: int
    months: int
    kind: str  # renewal | reactivation
    starts_at: datetime
    ends_at: datetime
    bounds: tuple[tuple[datetime, datetime], ...]
    monthly_price: Cents
    order_id: str
    prior_expires_at: datetime  # the package's expiry when planned
    price: Cents = 0
    voucher_id: str | None = None
    voucher: Cents = 0
    cash: Cents = 0
    gift: Cents = 0

    def dump(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("starts_at", "ends_at", "prior_expires_at"):
            out[k] = iso(out[k])
        out["bounds"] = [[iso(s), iso(e)] for s, e in self.bounds]
        return out

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Planned:
        raw = dict(raw)
        for k in ("starts_at", "ends_at", "prior_expires_at"):
            raw[k] = parse_instant(raw[k])
        raw["bounds"] = tuple((parse_instant(s), parse_instant(e)) for s, e in raw["bounds"])
        return cls(**raw)


@dataclass
class Plan:
    account: AccountModel
    apps: dict[int, AppModel]
    items: list[Planned]
    payment: BatchPayment
    voucher: Any  # VoucherModel | None


def _item_error(i: int, err: BillingError) -> BillingError:
    """An item that cannot be renewed: 409 naming it (400 stays 400, 404 stays 404, 410 becomes 409)."""
    kind = Conflict if isinstance(err, (Conflict, Gone)) else type(err)
    return kind(f"items[{i}]: {err.message}")


def plan(ctx: Ctx, uow: UnitOfWork, account_id: str, items: list[Item], voucher_id: str | None,
         voucher_item: int | None) -> Plan:
    """Plan every item in order as if bought alone (the app as the earlier items left it), then the
    payment (pay_batch). Any item that cannot be renewed refuses the whole batch."""
    if not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidRequest(f"items: from 1 to {MAX_ITEMS}")
    acct = load_account(ctx, uow, account_id)
    apps = {int(a.sdkappid): a for a in uow.apps.many([(sid,) for sid in {it.sdkappid for it in items}],
                                                        consistent=True)}
    states = {sid: state(a) for sid, a in apps.items() if a.account_id == account_id}
    seq = int(acct.ledger_seq)
    planned = []
    lines: dict[tuple[int, str], list[Held]] = {}  # the running orders of a line, with the batch's earlier items
    for i, it in enumerate(items):
        if it.sdkappid not in states:
            raise NotFound(f"items[{i}]: app {it.sdkappid} not found")
        try:
            one, states[it.sdkappid] = _plan_one(ctx, uow, apps[it.sdkappid], states[it.sdkappid], it,
                                                 new_order_id(ctx.now, seq + 1 + i), lines)
        except BillingError as err:
            raise _item_error(i, err) from None
        planned.append(one)
    voucher = None
    if voucher_id is not None:
        voucher = uow.vouchers.get(account_id, voucher_id)
        if voucher is None:
            raise NotFound(f"voucher {voucher_id} not found")
    cash, gift = spendable(acct)
    vi = (voucher_item or 0) if voucher is not None else None
    payment = pay_batch([p.price for p in planned], cash, gift, voucher_value(ctx, voucher), vi)
    paid = [replace(p, voucher=pay.voucher, cash=pay.cash, gift=pay.gift,
                    voucher_id=voucher.voucher_id if voucher is not None and i == vi else None)
            for i, (p, pay) in enumerate(zip(planned, payment.items, strict=True))]
    return Plan(acct, apps, paid, payment, voucher)


def _plan_one(ctx: Ctx, uow: UnitOfWork, app: AppModel, s: AppState, it: Item, order_id: str,
              lines: dict[tuple[int, str], list[Held]]) -> tuple[Planned, AppState]:
    """One item with the single purchase's rules, over the app as the batch's earlier items left it: a
    base package with plan_purchase (a renewal from the expiry, within the grace too, or a
    reactivation from now), a plugin/add-on line with plan_start and its period rule."""
    s.ensure_writable(it.sdkappid)
    if it.product in ctx.catalog.spec.editions:
        if s.edition == ctx.catalog.trial_edition:
            raise Conflict(f"app {it.sdkappid} is on the {s.edition.capitalize()} edition: it is extended, not renewed")
        if it.product != s.edition:
            raise Conflict(f"app {it.sdkappid} has the {s.edition} package, not {it.product}")
        ctx.catalog.check_purchase(it.product, it.months)
        p = plan_purchase(s, it.product, ctx.now, ctx.catalog)
        bounds = tuple(period_bounds(p.starts_at, it.months, ctx.tz))
        monthly = ctx.catalog.edition(it.product).monthly_price
        after = s.purchased(p, it.product, bounds[-1][1], ctx.now, None)
        return Planned(it.sdkappid, it.product, None, 1, it.months, p.kind, p.starts_at, bounds[-1][1], bounds,
                       monthly, order_id, s.expires_at, monthly * it.months), after
    ctx.catalog.check_purchase(it.product, it.months)
    extra = s.extra(it.product)
    if extra is None:
        raise Conflict(f"app {it.sdkappid} never had {it.product}")
    s.ensure_in_service(it.sdkappid, "plugins and add-ons need an enabled app (renew its base package first)")
    line = Line(it.product, extra.tier, extra.quantity)
    key = (it.sdkappid, it.product)
    if key not in lines:
        lines[key] = [held(o) for o in uow.orders.running(it.sdkappid, it.product, ctx.now)]
    start = plan_start(ctx.catalog, line, lines[key], ctx.now, app.used_once(line.product, line.tier))
    bounds = tuple(line_bounds(ctx.catalog, line, start.starts_at, it.months, ctx.tz))
    lines[key].append(Held(line, start.starts_at, bounds[-1][1]))
    monthly = monthly_price(ctx.catalog, line)
    after = s.extra_bought(line.product, line.tier, line.quantity, bounds[-1][1])
    return Planned(it.sdkappid, it.product, line.tier, line.quantity, it.months, "renewal", start.starts_at,
                   bounds[-1][1], bounds, monthly, order_id, extra.until, monthly * it.months), after


def quote(ctx: Ctx, account_id: str, items: list[Item], voucher_id: str | None,
          voucher_item: int | None) -> Plan:
    """POST .../renewals/quote: the plan and its payment, no side effect."""
    with ctx.uow() as uow:
        return plan(ctx, uow, account_id, items, voucher_id, voucher_item)


def order_of(account_id: str, p: Planned, at: datetime) -> OrderModel:
    """The order an item becomes (the same when rendered at reserve time and when written)."""
    order = OrderModel(
        p.sdkappid, p.order_id, account_id=account_id, product=p.product, kind=p.kind, tier=p.tier,
        quantity=p.quantity, months=p.months, starts_at=p.starts_at, ends_at=p.ends_at, price=p.price,
        monthly_price=p.monthly_price, voucher_id=p.voucher_id, voucher_amount=p.voucher, paid_cash=p.cash,
        paid_gift=p.gift, refunded=False, created_at=at,
    )
    set_periods(order, spread(p.cash, p.gift, p.bounds))
    return order


# ------------------------------------------------------------------ batch renewal: reserve, apply
@dataclass
class Reserved:
    """A committed reservation, with the records it wrote (the items are applied from them)."""

    batch: RenewalBatchModel
    plan: Plan


def planned_items(batch: RenewalBatchModel) -> list[Planned]:
    return [Planned.load(raw) for raw in json.loads(batch.items)]


def renew(ctx: Ctx, account_id: str, items: list[Item], voucher_id: str | None, voucher_item: int | None,
          idem: Idem, answer: Answer[Reserved]) -> Response:
    """POST .../renewals: reserve (all-or-nothing payment), then apply every item; a retry with the same
    Idempotency-Key answers the first response and finishes the batch if it was interrupted."""
    reserved: list[Reserved] = []

    def act(uow: UnitOfWork) -> Reserved:
        reserved.clear()
        p = plan(ctx, uow, account_id, items, voucher_id, voucher_item)
        if not p.payment.covered:
            raise InsufficientBalanceError(
                f"the balance does not cover the batch: total {fmt(p.payment.total)}, "
                f"shortfall {fmt(p.payment.shortfall)}")
        acct = p.account
        batch = RenewalBatchModel(
            account_id, f"r{ctx.now:%Y%m%d%H%M%S}{secrets.token_hex(4)}", created_at=ctx.now,
            items=json.dumps([x.dump() for x in p.items]), applied="." * len(p.items),
            held_cash=p.payment.cash, held_gift=p.payment.gift, open_shard=due_shard(account_id), version=0,
        )
        acct.held_cash = int(acct.held_cash or 0) + p.payment.cash
        acct.held_gift = int(acct.held_gift or 0) + p.payment.gift
        uow.renewals.add(batch)
        uow.accounts.save(acct)
        if p.voucher is not None:
            p.voucher.used_by_order = next(x.order_id for x in p.items if x.voucher_id is not None)
            uow.vouchers.claim(p.voucher, "used_by_order")
        events.emit(uow, ctx, "renewal.paid", account_id=account_id)  # data: the answer (RenewalResult)
        done = Reserved(batch, p)
        reserved.append(done)
        return done

    response = idempotency.once_in(ctx, idem, act, answer)
    try:
        if reserved:  # this request reserved it: apply with the records in hand
            r = reserved[0]
            apply_all(ctx, r.batch, r.plan.account, r.plan.apps)
        elif response[0] == 201:  # a retry: finish what the first request may have left
            finish(ctx, account_id, str(response[1]["renewal_id"]))
    except Contention:  # paid and recorded: the renewal-batches job (or a retry with the key) finishes it
        log.warning("renewal batch of %s left items pending under contention", account_id)
    return response


ItemHook = Callable[[int], None]
_before_item: list[ItemHook] = []  # tests: inject a failure between two writes (before item i's transaction)


@dataclass
class Records:
    """What an item's transaction writes over: the batch, the account, the app (None: gone)."""

    batch: RenewalBatchModel
    account: AccountModel
    app: AppModel | None


def apply_all(ctx: Ctx, batch: RenewalBatchModel, acct: AccountModel, apps: dict[int, AppModel]) -> int:
    """Apply every pending item of the batch, each in its own transaction, with the records in hand
    (reloaded only after a lost race). Answers how many were applied now."""
    done = 0
    for i, p in enumerate(planned_items(batch)):
        if batch.applied[i] != ".":
            continue
        for hook in _before_item:
            hook(i)
        r = Records(batch, acct, apps.get(p.sdkappid))

        def attempt(i: int = i, p: Planned = p, r: Records = r) -> bool:
            try:
                return _apply_one(ctx, r.batch, r.account, r.app, i, p)
            except WriteConflict:
                _reload(ctx, r, p.sdkappid)  # another writer moved one of them
                raise

        if with_retries(attempt):
            done += 1
        batch, acct = r.batch, r.account
        if r.app is not None:
            apps[p.sdkappid] = r.app
    return done


def _reload(ctx: Ctx, r: Records, sdkappid: int) -> None:
    with ctx.uow() as uow:
        batch = uow.renewals.get(r.batch.account_id, r.batch.renewal_id)
        acct = uow.accounts.get(r.batch.account_id)
        r.app = uow.apps.get(sdkappid)
    if batch is None or acct is None:
        raise NotFound(f"renewal {r.batch.renewal_id} or its account is gone")
    r.batch, r.account = batch, acct


def _apply_one(ctx: Ctx, batch: RenewalBatchModel, acct: AccountModel, app: AppModel | None, i: int,
               p: Planned) -> bool:
    """Item i in one transaction, over the batch's version: its order, ledger entry and app (or, when
    its package changed since it was planned, its hold released: nothing is bought twice). False:
    it was marked already."""
    if batch.applied[i] != ".":
        return False
    applies = app is not None and _still_as_planned(state(app), p)
    with ctx.uow() as uow:
        acct.held_cash = int(acct.held_cash or 0) - p.cash
        acct.held_gift = int(acct.held_gift or 0) - p.gift
        batch.held_cash = int(batch.held_cash) - p.cash
        batch.held_gift = int(batch.held_gift) - p.gift
        if applies and app is not None:
            order = order_of(batch.account_id, p, batch.created_at)
            uow.orders.add(order)
            book(ctx, uow, acct, [Move("purchase", -p.cash, -p.gift, ref=p.order_id)])
            _apply_to_app(ctx, app, p)
            store_app(uow, ctx, app)
            events.emit(uow, ctx, "package.renewed", account_id=batch.account_id, sdkappid=p.sdkappid,
                        data=shapes.purchase(order, app, acct, None, ctx.now))
        else:
            uow.accounts.save(acct)
            events.emit(uow, ctx, "renewal.item_released", account_id=batch.account_id, sdkappid=p.sdkappid,
                        data={"renewal_id": batch.renewal_id, "item": i, "sdkappid": p.sdkappid,
                              "product": p.product, "cash": fmt(p.cash), "gift": fmt(p.gift)})
        batch.applied = batch.applied[:i] + ("a" if applies else "v") + batch.applied[i + 1:]
        if "." not in batch.applied:
            batch.open_shard = None
        uow.renewals.save(batch)
        uow.commit()
    return True


def _still_as_planned(s: AppState, p: Planned) -> bool:
    if s.status == Status.RECLAIMED:
        return False
    if p.product == s.edition:
        return s.expires_at == p.prior_expires_at
    extra = s.extra(p.product)
    return extra is not None and extra.until == p.prior_expires_at


def _apply_to_app(ctx: Ctx, app: AppModel, p: Planned) -> None:
    if p.product == app.edition:
        kind = p.kind if app.status == Status.ENABLED.value else "reactivation"
        put(app, state(app).purchased(PurchasePlan(kind, p.starts_at, False), p.product, p.ends_at, ctx.now, None))
    else:
        grant(ctx, app, Line(p.product, p.tier, p.quantity), p.starts_at, p.ends_at)


def finish(ctx: Ctx, account_id: str, renewal_id: str) -> int:
    """Apply what an interrupted batch left pending (a retry, or the renewal-batches job)."""
    with ctx.uow() as uow:
        batch = uow.renewals.get(account_id, renewal_id)
        if batch is None or "." not in batch.applied:
            return 0
        acct = uow.accounts.get(account_id)
        wanted = {(p.sdkappid,) for p, mark in zip(planned_items(batch), batch.applied, strict=True) if mark == "."}
        apps = {int(a.sdkappid): a for a in uow.apps.many(wanted, consistent=True)}
    if acct is None:
        return 0
    return apply_all(ctx, batch, acct, apps)


def finish_open(ctx: Ctx, batch: RenewalBatchModel) -> str:
    """The renewal-batches job's step on an open batch."""
    return "finished" if finish(ctx, batch.account_id, batch.renewal_id) else "skipped"


def open_batches(ctx: Ctx) -> Iterator[RenewalBatchModel]:
    with ctx.uow() as uow:
        yield from uow.renewals.open()
