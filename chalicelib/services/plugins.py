"""Buying plugins and add-ons (the catalog's: push, search; desk, chatbot, call), the daily quota of
the plugin with a quota meter (push), and what is in force now (billing-rules 2, 3, 5; the rules
themselves are in chalicelib.domain.plugins).

Refunds go through purchases.refund with `product` = the plugin or add-on (the app stays enabled).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import Conflict, InvalidRequest
from chalicelib.domain.plugins import (
    Held,
    Line,
    is_extra,
    line,
    monthly_price,
    period_bounds,
    plan_start,
    record_quota,
    tier_of,
)
from chalicelib.domain.plugins import in_force as allowances
from chalicelib.domain.usage import quota_in_force
from chalicelib.services import events, idempotency
from chalicelib.services.apps import change_app, ensure_in_service, put, state, store_app
from chalicelib.services.billing import quota_log, quota_until
from chalicelib.services.context import Ctx
from chalicelib.services.events import PURCHASE_TYPES
from chalicelib.services.idempotency import Answer, Idem, Response
from chalicelib.services.purchases import Bought, load_move, pay, preview
from chalicelib.store.dynamodb.models import AppModel, OrderModel, QuotaChangeMap, due_shard
from chalicelib.store.port import UnitOfWork


def buy_plugin(ctx: Ctx, sdkappid: int, plugin: str, months: int, idem: Idem, answer: Answer[Bought]) -> Response:
    return idempotency.once_in(ctx, idem, _buy(ctx, sdkappid, line(ctx.catalog, plugin, kind="plugin"), months),
                               answer)


def buy_addon(ctx: Ctx, sdkappid: int, addon: str, tier: str | None, quantity: int | None, months: int,
              idem: Idem, answer: Answer[Bought]) -> Response:
    item = line(ctx.catalog, addon, tier, quantity, kind="add-on")
    return idempotency.once_in(ctx, idem, _buy(ctx, sdkappid, item, months), answer)


def held(order: OrderModel) -> Held:
    return Held(Line(order.product, order.tier, int(order.quantity)), order.starts_at, order.ends_at)


def plugin_quote(ctx: Ctx, sdkappid: int, plugin: str, months: int) -> Bought:
    """What :func:`buy_plugin` would charge now, nothing written."""
    return preview(ctx, _buy(ctx, sdkappid, line(ctx.catalog, plugin, kind="plugin"), months))


def addon_quote(ctx: Ctx, sdkappid: int, addon: str, tier: str | None, quantity: int | None, months: int) -> Bought:
    """What :func:`buy_addon` would charge now, nothing written."""
    return preview(ctx, _buy(ctx, sdkappid, line(ctx.catalog, addon, tier, quantity, kind="add-on"), months))


def _buy(ctx: Ctx, sdkappid: int, item: Line, months: int) -> Callable[[UnitOfWork], Bought]:
    """Charge a plugin/add-on order (new, or a renewal appended to the line in force) on an enabled app."""
    ctx.catalog.check_purchase(item.product, months)

    def act(uow: UnitOfWork) -> Bought:
        loaded = load_move(ctx, uow, sdkappid)
        app = ensure_in_service(loaded.app, "plugins and add-ons need an enabled app")
        running = [held(o) for o in uow.orders.running(sdkappid, item.product, ctx.now)]
        start = plan_start(ctx.catalog, item, running, ctx.now, app.used_once(item.product, item.tier))
        bounds = period_bounds(ctx.catalog, item, start.starts_at, months, ctx.tz)
        order, acct = pay(
            uow, ctx, loaded, product=item.product, kind=start.kind, months=months, starts_at=start.starts_at,
            monthly_price=monthly_price(ctx.catalog, item), bounds=bounds, tier=item.tier, quantity=item.quantity,
        )
        grant(ctx, app, item, bounds[0][0], bounds[-1][1])
        store_app(uow, ctx, app)  # also serialises purchases on the app (version condition)
        events.emit(uow, ctx, PURCHASE_TYPES[start.kind], account_id=app.account_id, sdkappid=sdkappid)
        return Bought(order, app, acct, None, ctx.now)

    return act


def grant(ctx: Ctx, app: AppModel, item: Line, starts_at: datetime, ends_at: datetime) -> None:
    """What the app's own item keeps of a purchase: the plugin's end, the daily quota, a once-per-app
    tier, and the line's end and renewal mode (renewal management: its package)."""
    if item.product == ctx.catalog.quota_plugin and not _quota_in_force(ctx, app):
        # the plugin starts anew: no quota in the gap since it ended (a late report or the day's
        # bill must not find the old quota), then the included quota from its start
        until = app.until(item.product)
        if until is not None and until < starts_at:
            _set_quota(app, until, 0)
        _set_quota(app, starts_at, ctx.catalog.included_push_calls)
    if item.product in ctx.catalog.spec.plugins:
        app.set_until(item.product, ends_at)
    tier = tier_of(ctx.catalog, item)
    if tier is not None and tier.once_per_app:
        app.mark_used_once(item.product, item.tier)
    if tier is None or not (tier.starts_now or tier.days is not None):  # a line that renews
        put(app, state(app).extra_bought(item.product, item.tier, item.quantity, ends_at))


def _quota_in_force(ctx: Ctx, app: AppModel) -> bool:
    until = quota_until(ctx, app)
    return until is not None and ctx.now < until


def _set_quota(app: AppModel, at: datetime, quota: int) -> None:
    log = record_quota(quota_log(app), at, quota)
    app.push_quota_log = [QuotaChangeMap(at=when, quota=q) for when, q in log]
    app.push_quota = quota


def set_push_quota(ctx: Ctx, sdkappid: int, daily_broadcast_calls: int, answer: Answer[AppModel]) -> Response:
    """A new daily broadcast-call quota from now on (at least the quota meter's included calls, the
    catalog's 100; the push plugin in force). Above them the app joins the push-billing index; the
    billing job takes it out again."""
    included = ctx.catalog.included_push_calls
    if daily_broadcast_calls < included:
        raise InvalidRequest(f"daily_broadcast_calls must be at least the included {included}")

    def change(app: AppModel) -> None:
        if not _quota_in_force(ctx, app):
            raise Conflict(f"app {sdkappid} has no {ctx.catalog.quota_plugin} plugin in force")
        if quota_in_force(quota_log(app), quota_until(ctx, app), ctx.now) != daily_broadcast_calls:
            _set_quota(app, ctx.now, daily_broadcast_calls)
        if daily_broadcast_calls > included:
            app.push_billing_shard = due_shard(int(app.sdkappid))

    return change_app(ctx, sdkappid, change, idempotency.NONE, answer, "plugin.quota_changed")


def in_force(ctx: Ctx, app: AppModel) -> tuple[dict[str, Any], dict[str, Any]]:
    """({plugin: allowances}, {add-on: allowances}) of what is in force now (one Query of the orders)."""
    running: dict[str, list[Held]] = {}
    with ctx.uow() as uow:
        unended = uow.orders.unended(int(app.sdkappid), ctx.now)
    for o in unended:
        if not o.refunded and is_extra(ctx.catalog, o.product):
            running.setdefault(o.product, []).append(held(o))
    now = {p: allowances(ctx.catalog, hs, ctx.now) for p, hs in running.items()}
    plugins = {p: a for p, a in now.items() if a is not None and p in ctx.catalog.spec.plugins}
    addons = {p: a for p, a in now.items() if a is not None and p in ctx.catalog.spec.addons}
    quota_plugin = ctx.catalog.quota_plugin
    if quota_plugin in plugins:
        plugins[quota_plugin]["daily_broadcast_calls"] = quota_in_force(quota_log(app), quota_until(ctx, app), ctx.now)
    return plugins, addons
