"""Lifecycle use cases run by the jobs, one app at a time, each one transaction (section 7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.app import ExpiryWarning, StopReason
from chalicelib.domain.calendar import iso
from chalicelib.domain.errors import Conflict
from chalicelib.domain.lifecycle import Enforcement, auto_renew, enforcement, expiry_warning
from chalicelib.services import notifications, usage
from chalicelib.services.apps import load_app, put, refresh_dues, save_app, state, stop_app
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
    run = expiry_warning(state(app), app.warn_due_at, ctx.now, ctx.tz, ctx.catalog)
    if run is None:
        return heal(ctx, app)
    if run.app is None:
        return "skipped"
    warning = run.warning
    items = []
    if warning is not None:
        items = notifications.compose(
            _account(app.account_id), warning.kind, ctx.now,
            subject=f"App {app.sdkappid}: {app.edition} package expires {iso(app.expires_at)}",
            body=_warning_body(app, warning),
            sdkappid=int(app.sdkappid),
        )
    put(app, run.app)
    with uow.write() as tx:
        save_app(tx, ctx, app)
        notifications.record(tx, items)
    notifications.dispatch(items, ctx.now)
    return "warned" if items else "skipped"


def _warning_body(app: AppModel, warning: ExpiryWarning) -> str:
    days = (warning.expiry_day - warning.day).days
    when = "expired yesterday" if days < 0 else ("expires today" if days == 0 else f"expires in {days} day(s)")
    what = ("It was stopped 24 hours after expiry: buy a package to bring it back; its data is deleted 90 days "
            "after the stop." if warning.stopped else
            "Renew it to keep the app in service; it stops 24 hours after expiry.")
    return f"The {app.edition} package of app {app.sdkappid} ({app.name}) {when} ({iso(warning.expires_at)}). {what}"


# ------------------------------------------------------------------ expiry enforcement
def enforce(ctx: Ctx, app: AppModel) -> str:
    """At expiry: auto-renew if asked and affordable; 24 h after expiry: stop (reason expired)."""
    s = state(app)
    decision = enforcement(s, app.enforce_due_at, ctx.now, ctx.catalog)
    if decision == Enforcement.NOT_DUE:
        return heal(ctx, app)
    if decision == Enforcement.WAIT:
        return "skipped"
    if decision == Enforcement.AUTO_RENEW:
        return _auto_renew(ctx, app)
    why = (f"its package expired {iso(app.expires_at)} and was not renewed. Its data is deleted 90 days after the "
           "stop unless it is brought back by a purchase.")
    stop_app(ctx, app, _account(app.account_id), s.stop(StopReason.EXPIRED, ctx.now), why)
    return "stopped"


def _auto_renew(ctx: Ctx, app: AppModel) -> str:
    acct = _account(app.account_id)
    after, renewal = auto_renew(state(app), int(acct.cash) + int(acct.gift), ctx.tz, ctx.catalog)
    with uow.write() as tx:
        if renewal is not None:
            charge(tx, ctx, Loaded(app=app, account=acct, voucher=None, done=None), product=renewal.product,
                   kind=renewal.kind, months=renewal.months, starts_at=renewal.starts_at,
                   monthly_price=renewal.monthly_price, bounds=list(renewal.bounds))
        save_app(tx, ctx, put(app, after))
    return "renewed" if renewal is not None else "renew_failed"


# ------------------------------------------------------------------ reclamation
def reclaim(ctx: Ctx, app: AppModel) -> str:
    """90 days after a stop/disable (or on delete): a tombstone stays, the slot frees, data goes.

    The tombstone is written first (it refuses every later write with 410), with `purge_pending`
    keeping the app in the reclamation index; then the data is deleted and the flag cleared. A
    purchase racing the reclamation therefore either wins (nothing is deleted) or gets 410, and a
    crash between the two steps is finished by the next reclamation run."""
    s = state(app)
    if s.awaiting_purge:
        return _purge(ctx, app)
    if not s.reclaimable:
        return heal(ctx, app)
    after, reclaimed = s.reclaim(ctx.now)
    acct = _account(app.account_id)
    acct.apps_count = max(0, int(acct.apps_count) - 1)
    put(app, after)
    _drop_plugin_state(app, ctx.now)
    items = notifications.compose(
        acct, reclaimed.kind, reclaimed.at,
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


def _drop_plugin_state(app: AppModel, now: datetime) -> None:
    """Plugin and add-on state goes with a reclaimed app's data; the push plugin ends now, and its
    quota log stays only while the push-quota job may still bill a day of it (it clears it then)."""
    if app.push_until is not None and app.push_until > now:
        app.push_until = now
    if app.push_billing_shard is None:
        app.push_quota_log = None
        app.push_until = None
    app.push_quota = None
    app.search_until = None
    app.call_trial_used = False


def _purge(ctx: Ctx, app: AppModel) -> str:
    """Delete a reclaimed app's data (usage, user sets, notifications but the reclaimed notice);
    then the app leaves the reclamation index."""
    for hook in RECLAIM_HOOKS:
        hook(ctx, int(app.sdkappid))
    with uow.write() as tx:
        save_app(tx, ctx, put(app, state(app).purged()))
    return "reclaimed"


def reclaim_due(ctx: Ctx, app: AppModel) -> str:
    if app.reclaim_due_at is None or app.reclaim_due_at > ctx.now:
        return "skipped"
    return reclaim(ctx, app)


def delete_app(ctx: Ctx, sdkappid: int) -> dict[str, Any]:
    """DELETE /v1/apps/{id}: allowed only when disabled or stopped; reclaims at once."""
    app = load_app(ctx, sdkappid, writable=True)
    state(app).ensure_deletable()
    outcome = uow.retry_step(app, lambda a: reclaim(ctx, a), reload_app)
    if outcome != "reclaimed":
        raise Conflict(f"app {sdkappid} changed while being deleted; try again")
    return views.app(load_app(ctx, sdkappid))
