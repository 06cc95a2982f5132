"""Buying plugins (push, search) and add-ons (desk, chatbot, call), the push quota, and what is in
force now (billing-rules 2, 3, 5; the rules themselves are in chalicelib.domain.plugins).

Refunds go through purchases.refund with `product` = the plugin or add-on (the app stays enabled).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain import plugins as rules
from chalicelib.domain.errors import Conflict, InvalidRequest
from chalicelib.domain.usage import quota_in_force
from chalicelib.services import idempotency
from chalicelib.services.apps import ensure_in_service, save_app, update_app
from chalicelib.services.billing import quota_log
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import Idem, Response
from chalicelib.services.purchases import PLUGIN_UNTIL, answer, charge, load_for_money_move, running_orders
from chalicelib.store import uow
from chalicelib.store.models import AppModel, OrderModel, QuotaChangeMap, due_shard


def buy_plugin(ctx: Ctx, sdkappid: int, plugin: str, months: int, idem: Idem) -> Response:
    return _buy(ctx, sdkappid, rules.line(ctx.catalog, plugin), months, idem)


def buy_addon(ctx: Ctx, sdkappid: int, addon: str, tier: str | None, quantity: int | None, months: int,
              idem: Idem) -> Response:
    return _buy(ctx, sdkappid, rules.line(ctx.catalog, addon, tier, quantity), months, idem)


def held(order: OrderModel) -> rules.Held:
    line = rules.Line(order.product, order.tier, int(order.quantity))
    return rules.Held(line, order.starts_at, order.ends_at)


def _buy(ctx: Ctx, sdkappid: int, line: rules.Line, months: int, idem: Idem) -> Response:
    """Charge a plugin/add-on order (new, or a renewal appended to the line in force) on an enabled app."""
    ttl = ctx.catalog.lifecycle("idempotency_ttl_hours")

    def attempt() -> Response:
        loaded = load_for_money_move(ctx, sdkappid, idem)
        if loaded.done is not None:
            return loaded.done
        app = ensure_in_service(loaded.app, "plugins and add-ons need an enabled app")
        running = [held(o) for o in running_orders(sdkappid, line.product, ctx.now)]
        start = rules.plan_start(line, running, ctx.now, bool(app.call_trial_used))
        bounds = rules.period_bounds(ctx.catalog, line, start.starts_at, months, ctx.tz)
        with uow.write() as tx:
            order, acct = charge(
                tx, ctx, loaded, product=line.product, kind=start.kind, months=months, starts_at=start.starts_at,
                monthly_price=rules.monthly_price(ctx.catalog, line), bounds=bounds, tier=line.tier,
                quantity=line.quantity,
            )
            _grant(ctx, app, line, bounds[0][0], bounds[-1][1])
            save_app(tx, ctx, app)  # also serialises purchases on the app (version condition)
            response = answer(ctx, order, app, acct)
            idempotency.record(tx, idem, response, ctx.now, ttl)
        return response

    return idempotency.run(idem, attempt)


def _grant(ctx: Ctx, app: AppModel, line: rules.Line, starts_at: datetime, ends_at: datetime) -> None:
    """What the app's own item keeps of a purchase: the plugin's end, the push quota, the trial."""
    if line.product == "push" and not _push_in_force(app, ctx.now):
        # the plugin starts anew: no quota in the gap since it ended (a late report or the day's
        # bill must not find the old quota), then the included quota from its start
        if app.push_until is not None and app.push_until < starts_at:
            _set_quota(app, app.push_until, 0)
        _set_quota(app, starts_at, ctx.catalog.included_push_calls)
    if line.product in PLUGIN_UNTIL:
        setattr(app, PLUGIN_UNTIL[line.product], ends_at)
    if line.tier == rules.TRIAL:
        app.call_trial_used = True


def _push_in_force(app: AppModel, now: datetime) -> bool:
    return app.push_until is not None and now < app.push_until


def _set_quota(app: AppModel, at: datetime, quota: int) -> None:
    log = rules.record_quota(quota_log(app), at, quota)
    app.push_quota_log = [QuotaChangeMap(at=when, quota=q) for when, q in log]
    app.push_quota = quota


def set_push_quota(ctx: Ctx, sdkappid: int, daily_broadcast_calls: int) -> dict[str, Any]:
    """A new daily broadcast-call quota from now on (>= the included 100; the push plugin in force).
    Above 100 the app joins the push-billing index; the billing job takes it out again."""
    included = ctx.catalog.included_push_calls
    if daily_broadcast_calls < included:
        raise InvalidRequest(f"daily_broadcast_calls must be at least the included {included}")

    def change(app: AppModel) -> None:
        if not _push_in_force(app, ctx.now):
            raise Conflict(f"app {sdkappid} has no push plugin in force")
        if quota_in_force(quota_log(app), app.push_until, ctx.now) != daily_broadcast_calls:
            _set_quota(app, ctx.now, daily_broadcast_calls)
        if daily_broadcast_calls > included:
            app.push_billing_shard = due_shard(int(app.sdkappid))

    update_app(ctx, sdkappid, change)
    return {"daily_broadcast_calls": daily_broadcast_calls}


def in_force(ctx: Ctx, app: AppModel) -> tuple[dict[str, Any], dict[str, Any]]:
    """({plugin: allowances}, {add-on: allowances}) of what is in force now (one Query of the orders)."""
    running: dict[str, list[rules.Held]] = {}
    for o in OrderModel.query(app.sdkappid, filter_condition=OrderModel.ends_at > ctx.now):
        if not o.refunded and o.product in rules.PLUGINS + rules.ADDONS:
            running.setdefault(o.product, []).append(held(o))
    now = {p: rules.in_force(ctx.catalog, hs, ctx.now) for p, hs in running.items()}
    plugins = {p: a for p, a in now.items() if a is not None and p in rules.PLUGINS}
    addons = {p: a for p, a in now.items() if a is not None and p in rules.ADDONS}
    if "push" in plugins:
        plugins["push"]["daily_broadcast_calls"] = quota_in_force(quota_log(app), app.push_until, ctx.now)
    return plugins, addons
