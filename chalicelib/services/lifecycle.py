"""Lifecycle use cases run by the jobs, one app at a time, each one transaction (section 7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from chalicelib.domain import orders as rules
from chalicelib.domain.calendar import iso, local_date
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.errors import Conflict
from chalicelib.domain.lifecycle import warning_days, warns, will_try_auto_renew
from chalicelib.domain.notices import render
from chalicelib.services import notifications, usage
from chalicelib.services.apps import load_app, refresh_dues, save_app, state, stop_app
from chalicelib.services.context import Ctx
from chalicelib.services.ledger import save_account
from chalicelib.services.purchases import Loaded, charge
from chalicelib.store import uow, views
from chalicelib.store.models import AccountModel, AppModel

# hooks that delete an app's data on reclamation (usage, user sets, plugin state); each returns a count
RECLAIM_HOOKS: list[Callable[[Ctx, int], int]] = [notifications.delete_for_app, usage.delete_for_app]


def heal(ctx: Ctx, app: AppModel) -> str:
    """Nothing to do for an app the index still lists (its copy was stale, or its state moved
    without its dues): rewrite its due times so the index stops listing it."""
    before = (app.warn_due_at, app.enforce_due_at, app.reclaim_due_at)
    refresh_dues(ctx, app)
    if (app.warn_due_at, app.enforce_due_at, app.reclaim_due_at) != before:
        with uow.write() as tx:
            save_app(tx, ctx, app)
    return "skipped"


def reload_app(app: AppModel) -> AppModel:
    """The app as stored now (after another writer won the race for it)."""
    return AppModel.get(app.sdkappid, consistent_read=True)


def _account(account_id: str) -> AccountModel:
    return AccountModel.get(account_id, consistent_read=True)


# ------------------------------------------------------------------ expiry warnings
def warn(ctx: Ctx, app: AppModel) -> str:
    """One warning (email + SMS) on each local day E-6 ... E+1 for a package not yet renewed."""
    today = local_date(ctx.now, ctx.tz)
    if not warns(state(app)) or app.warn_due_at is None or app.warn_due_at > ctx.now:
        return heal(ctx, app)
    first, last = warning_days(app.expires_at, ctx.tz, ctx.catalog)
    if app.last_warned_day == today.isoformat():
        return "skipped"
    items = []
    if first <= today <= last:
        acct = _account(app.account_id)
        items = notifications.compose(
            acct, "expiry_warning", ctx.now,
            subject=f"App {app.sdkappid}: {app.edition} package expires {iso(app.expires_at)}",
            body=_warning_body(ctx.catalog, app, today, local_date(app.expires_at, ctx.tz)),
            sdkappid=int(app.sdkappid),
        )
        app.last_warned_day = today.isoformat()
    elif today > last:  # the window passed without a run on its last day: nothing more to send
        app.last_warned_day = last.isoformat()
    else:
        return "skipped"
    with uow.write() as tx:
        save_app(tx, ctx, app)
        notifications.record(tx, items)
    notifications.dispatch(items, ctx.now)
    return "warned" if items else "skipped"


def _warning_body(catalog: Catalog, app: AppModel, today: date, e_day: date) -> str:
    days = (e_day - today).days
    when = "expired yesterday" if days < 0 else ("expires today" if days == 0 else f"expires in {days} day(s)")
    what = render(catalog, "warning_stopped" if app.status == "stopped" else "warning_enabled")
    return f"The {app.edition} package of app {app.sdkappid} ({app.name}) {when} ({iso(app.expires_at)}). {what}"


# ------------------------------------------------------------------ expiry enforcement
def enforce(ctx: Ctx, app: AppModel) -> str:
    """At expiry: auto-renew if asked and affordable; 24 h after expiry: stop (reason expired)."""
    if app.status != "enabled" or app.enforce_due_at is None or app.enforce_due_at > ctx.now:
        return heal(ctx, app)
    expiry = app.expires_at
    stop_at = expiry + timedelta(hours=ctx.catalog.lifecycle("stop_after_expiry_hours"))
    if ctx.now < expiry:
        return "skipped"
    if will_try_auto_renew(state(app)) and ctx.now < stop_at:
        return _auto_renew(ctx, app)
    if ctx.now < stop_at:
        return "skipped"
    why = render(ctx.catalog, "stopped_expired", expired_at=iso(expiry))
    stop_app(ctx, app, _account(app.account_id), "expired", why)
    return "stopped"


def _auto_renew(ctx: Ctx, app: AppModel) -> str:
    acct = _account(app.account_id)
    monthly = ctx.catalog.edition(app.edition).monthly_price
    app.renew_attempted_for = app.expires_at
    if int(acct.cash) + int(acct.gift) < monthly:
        with uow.write() as tx:
            save_app(tx, ctx, app)
        return "renew_failed"
    bounds = rules.period_bounds(app.expires_at, 1, ctx.tz)
    with uow.write() as tx:
        charge(tx, ctx, Loaded(app=app, account=acct, voucher=None, done=None), product=app.edition,
               kind="auto_renewal", months=1, starts_at=app.expires_at, monthly_price=monthly, bounds=bounds)
        app.expires_at = bounds[-1][1]
        app.last_warned_day = None
        save_app(tx, ctx, app)
    return "renewed"


# ------------------------------------------------------------------ reclamation
def reclaim(ctx: Ctx, app: AppModel) -> str:
    """90 days after a stop/disable (or on delete): a tombstone stays, the slot frees, data goes.

    The tombstone is written first (it refuses every later write with 410), with `purge_pending`
    keeping the app in the reclamation index; then the data is deleted and the flag cleared. A
    purchase racing the reclamation therefore either wins (nothing is deleted) or gets 410, and a
    crash between the two steps is finished by the next reclamation run."""
    if app.status == "reclaimed" and app.purge_pending:
        return _purge(ctx, app)
    if app.status not in ("stopped", "disabled"):
        return heal(ctx, app)
    acct = _account(app.account_id)
    acct.apps_count = max(0, int(acct.apps_count) - 1)
    app.status = "reclaimed"
    app.reclaimed_at = ctx.now
    app.purge_pending = True
    app.auto_renew = False
    # plugin and add-on state goes with the app's data; the quota plugin (push) ends now, and its
    # end and quota log stay only while the push-quota job may still bill a day of it (it clears them then)
    quota_plugin = ctx.catalog.quota_plugin
    for product in app.plugins_with_until():
        until = app.until(product)
        keep = product == quota_plugin and app.push_billing_shard is not None and until is not None
        app.set_until(product, min(until, ctx.now) if keep and until is not None else None)
    if app.push_billing_shard is None:
        app.push_quota_log = None
    app.push_quota = None
    app.clear_used_once()
    items = notifications.compose(
        acct, "reclaimed", ctx.now,
        subject=f"App {app.sdkappid} reclaimed",
        body=f"App {app.sdkappid} ({app.name}) was reclaimed: its usage, plugin and add-on state were deleted. "
        "Orders, bills and the ledger are kept.",
        sdkappid=int(app.sdkappid),
    )
    with uow.write() as tx:
        save_app(tx, ctx, app)
        save_account(tx, acct)
        notifications.record(tx, items)
    notifications.dispatch(items, ctx.now)
    return _purge(ctx, app)


def _purge(ctx: Ctx, app: AppModel) -> str:
    """Delete a reclaimed app's data (usage, user sets, notifications but the reclaimed notice);
    then the app leaves the reclamation index."""
    for hook in RECLAIM_HOOKS:
        hook(ctx, int(app.sdkappid))
    app.purge_pending = None
    with uow.write() as tx:
        save_app(tx, ctx, app)
    return "reclaimed"


def reclaim_due(ctx: Ctx, app: AppModel) -> str:
    if app.reclaim_due_at is None or app.reclaim_due_at > ctx.now:
        return "skipped"
    return reclaim(ctx, app)


def delete_app(ctx: Ctx, sdkappid: int) -> dict[str, Any]:
    """DELETE /v1/apps/{id}: allowed only when disabled or stopped; reclaims at once."""
    app = load_app(ctx, sdkappid, writable=True)
    if app.status not in ("disabled", "stopped"):
        raise Conflict("only a disabled or stopped app can be deleted (refund it first)")
    outcome = uow.retry_step(app, lambda a: reclaim(ctx, a), reload_app)
    if outcome != "reclaimed":
        raise Conflict(f"app {sdkappid} changed while being deleted; try again")
    return views.app(load_app(ctx, sdkappid))
