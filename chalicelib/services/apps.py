"""Use cases on apps: create, read, auto-renew flag, trial extension, and the app write rule. They
store through the unit of work (ctx.uow) and answer records; the API renders them (api/apps.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from chalicelib import shapes
from chalicelib.domain.app import AppState, DisabledReason, OffSpan, Status, Stopped, StopReason
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.lifecycle import dues
from chalicelib.domain.money import Cents
from chalicelib.domain.notices import notice
from chalicelib.domain.renewal import BASE, Mode, dump_extras, load_extras
from chalicelib.services import events, idempotency, notifications
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import Answer, Idem, Response
from chalicelib.store.dynamodb.models import AccountModel, AppModel, OffSpanMap, PackageModel, due_shard
from chalicelib.store.port import Page, UnitOfWork, expiry_key


def state(app: AppModel) -> AppState:
    """The app's lifecycle state as the domain sees it."""
    return AppState(
        edition=app.edition,
        status=Status(app.status),
        expires_at=app.expires_at,
        auto_renew=bool(app.auto_renew),
        stopped_at=app.stopped_at,
        disabled_at=app.disabled_at,
        stop_reason=StopReason(app.stop_reason) if app.stop_reason else None,
        purge_pending=bool(app.purge_pending),
        reclaimed_at=app.reclaimed_at,
        last_warned_day=app.last_warned_day,
        renew_attempted_for=app.renew_attempted_for,
        had_paid=bool(app.had_paid),
        off_log=None if app.off_log is None else tuple(OffSpan(s.off_at, s.on_at, s.edition) for s in app.off_log),
        disabled_reason=_disabled_reason(app),
        no_renew=bool(app.no_renew),
        extras=load_extras(app.renewal_extras),
    )


def _disabled_reason(app: AppModel) -> DisabledReason | None:
    """A disabled app written before the reason was stored was disabled by a refund."""
    if app.disabled_reason:
        return DisabledReason(app.disabled_reason)
    return DisabledReason.REFUNDED if app.status == Status.DISABLED.value else None


def put(app: AppModel, s: AppState) -> AppModel:
    """Copy a lifecycle state the domain answered onto the item (saved by `store_app`)."""
    app.edition = s.edition
    app.status = s.status.value
    app.expires_at = s.expires_at
    app.auto_renew = s.auto_renew
    app.stopped_at = s.stopped_at
    app.disabled_at = s.disabled_at
    app.stop_reason = s.stop_reason.value if s.stop_reason else None
    app.purge_pending = True if s.purge_pending else None
    app.reclaimed_at = s.reclaimed_at
    app.last_warned_day = s.last_warned_day
    app.renew_attempted_for = s.renew_attempted_for
    app.had_paid = s.had_paid
    app.disabled_reason = s.disabled_reason.value if s.disabled_reason else None
    app.no_renew = True if s.no_renew else None
    app.renewal_extras = dump_extras(s.extras)
    app.off_log = None if s.off_log is None else [
        OffSpanMap(off_at=x.off_at, on_at=x.on_at, edition=x.edition) for x in s.off_log
    ]
    return app


def held(acct: AccountModel) -> tuple[Cents, Cents]:
    """(cash, gift) reserved by the account's open renewal batches."""
    return int(acct.held_cash or 0), int(acct.held_gift or 0)


def spendable(acct: AccountModel) -> tuple[Cents, Cents]:
    """(cash, gift) a prepaid charge may take: the balance less what open renewal batches reserved."""
    hc, hg = held(acct)
    return int(acct.cash) - hc, int(acct.gift) - hg


def refresh_dues(ctx: Ctx, app: AppModel) -> None:
    """Recompute the sparse due-time attributes the lifecycle jobs query by."""
    d = dues(state(app), ctx.tz, ctx.catalog)
    app.warn_due_at = d.warn_due_at
    app.enforce_due_at = d.enforce_due_at
    app.reclaim_due_at = d.reclaim_due_at


def store_app(uow: UnitOfWork, ctx: Ctx, app: AppModel, *, new: bool = False) -> None:
    """Every app write: dues recomputed, its package items kept (same commit), created only if
    absent, else written over the version read."""
    refresh_dues(ctx, app)
    store_packages(uow, app)
    if new:
        uow.apps.add(app)
    else:
        uow.apps.save(app)


def package_items(app: AppModel) -> list[PackageModel]:
    """The app's package items as its state implies (a reclaimed app's leave the expiry index)."""
    s = state(app)
    listed = {p.slot: p for p in s.packages}
    slots = [BASE, *(e.product for e in s.extras)]
    items = []
    for slot in slots:
        p = listed.get(slot)
        product = p.product if p else (app.edition if slot == BASE else slot)
        extra = s.extra(slot)
        expires = p.expires_at if p else (extra.until if extra else app.expires_at)
        items.append(PackageModel(
            int(app.sdkappid), slot, account_id=app.account_id,
            expiry_key=expiry_key(expires, int(app.sdkappid), slot) if p else None,
            product=product, tier=p.tier if p else None, quantity=p.quantity if p else 1,
            app_name=app.name, region=app.region, expires_at=expires,
            renewal=(p.mode if p else Mode.NONE).value, in_service=s.in_service,
        ))
    return items


def store_packages(uow: UnitOfWork, app: AppModel) -> None:
    """Write the app's package items in the app's commit when what they show changed (the app's
    version condition orders these writes: they need none of their own)."""
    items = package_items(app)
    sig = hashlib.sha256(json.dumps([i.serialize() for i in items], sort_keys=True).encode()).hexdigest()[:16]
    if sig == app.packages_sig:
        return
    for item in items:
        uow.packages.put(item)
    app.packages_sig = sig


def find_app(ctx: Ctx, uow: UnitOfWork, sdkappid: int, *, consistent: bool = True,
             writable: bool = False) -> AppModel:
    """The app if the caller may see it (another account's app is 'not found')."""
    owner = ctx.principal.account_id if ctx.principal.role == "customer" else None
    app = uow.apps.find(sdkappid, owner, consistent=consistent)
    return ensure_writable(app) if writable else app


def load_app(ctx: Ctx, sdkappid: int, *, consistent: bool = True, writable: bool = False) -> AppModel:
    """:func:`find_app` in a unit of work of its own."""
    with ctx.uow() as uow:
        return find_app(ctx, uow, sdkappid, consistent=consistent, writable=writable)


def ensure_writable(app: AppModel) -> AppModel:
    """A reclaimed app is a tombstone: any write to it answers 410."""
    state(app).ensure_writable(int(app.sdkappid))
    return app


def ensure_in_service(app: AppModel, why: str) -> AppModel:
    """The app must be `enabled` (410 once reclaimed, else 409 not_in_service)."""
    state(app).ensure_in_service(int(app.sdkappid), why)
    return app


def create_app(ctx: Ctx, account_id: str, name: str, region: str, idem: Idem,
               answer: Answer[AppModel]) -> Response:
    ctx.principal.check_account(account_id)
    if ctx.principal.role not in ("operator", "customer"):
        ctx.principal.require("operator", "customer")
    limit = ctx.catalog.max_apps
    allocated: list[int] = []  # one sdkappid however often the attempt runs

    def act(uow: UnitOfWork) -> AppModel:
        acct = uow.accounts.get(account_id)
        if acct is None:
            raise NotFound(f"account {account_id} not found")
        if int(acct.apps_count) >= limit:
            raise Conflict(f"an account may own at most {limit} apps", code="limit_exceeded")
        if not allocated:
            allocated.append(uow.apps.next_sdkappid())
        sdkappid = allocated[0]
        app = put(AppModel(sdkappid, account_id=account_id, name=name, region=region, created_at=ctx.now,
                           version=0, due_shard=due_shard(sdkappid)),
                  AppState.new(ctx.now, ctx.tz, ctx.catalog.trial_edition))
        acct.apps_count = int(acct.apps_count) + 1
        acct.app_ids = {int(x) for x in acct.app_ids or ()} | {sdkappid}
        store_app(uow, ctx, app, new=True)
        uow.accounts.save(acct)
        events.emit(uow, ctx, "app.created", account_id=account_id, sdkappid=sdkappid)
        return app

    return idempotency.once_in(ctx, idem, act, answer)


def get_app(ctx: Ctx, sdkappid: int) -> AppModel:
    return load_app(ctx, sdkappid, consistent=False)


def list_apps(ctx: Ctx, account_id: str, limit: int, token: str | None) -> Page[AppModel]:
    ctx.principal.check_account(account_id)
    with ctx.uow() as uow:
        return uow.apps.of_account(account_id, limit, token)


def change_app(ctx: Ctx, sdkappid: int, change: Callable[[AppModel], Any], idem: Idem,
               answer: Answer[AppModel], event: str) -> Response:
    """Load, apply `change(app)` (which may raise), save over the version read with its `event`
    (data: the answer); retried."""

    def act(uow: UnitOfWork) -> AppModel:
        app = find_app(ctx, uow, sdkappid, writable=True)
        change(app)
        store_app(uow, ctx, app)
        events.emit(uow, ctx, event, account_id=app.account_id, sdkappid=sdkappid)
        return app

    return idempotency.once_in(ctx, idem, act, answer)


def set_auto_renew(ctx: Ctx, sdkappid: int, enabled: bool, answer: Answer[AppModel]) -> Response:
    trial = ctx.catalog.trial_edition
    return change_app(ctx, sdkappid, lambda app: put(app, state(app).with_auto_renew(enabled, trial)), idempotency.NONE,
                      answer, "package.renewal_mode_changed")


def disable(ctx: Ctx, sdkappid: int, answer: Answer[AppModel]) -> Response:
    """POST /v1/apps/{id}/disable: an enabled app -> disabled (reason requested)."""
    return change_app(ctx, sdkappid, lambda app: put(app, state(app).disable_on_request(sdkappid, ctx.now)),
                      idempotency.NONE, answer, "app.disabled")


def enable(ctx: Ctx, sdkappid: int, answer: Answer[AppModel]) -> Response:
    """POST /v1/apps/{id}/enable: a disabled app -> enabled while its package is valid (else 409)."""
    trial = ctx.catalog.trial_edition
    return change_app(ctx, sdkappid, lambda app: put(app, state(app).enable(sdkappid, ctx.now, trial)),
                      idempotency.NONE, answer, "app.enabled")


def extend_trial(ctx: Ctx, sdkappid: int, idem: Idem, answer: Answer[AppModel]) -> Response:
    """Trial extension: after expiry (before reclamation) expires add_months(now, 1), enabled."""
    trial = ctx.catalog.trial_edition
    return change_app(ctx, sdkappid, lambda app: put(app, state(app).extend_trial(ctx.now, ctx.tz, trial)), idem,
                      answer, "app.trial_extended")


def stop_app(ctx: Ctx, app: AppModel, acct: AccountModel, stop: tuple[AppState, Stopped], why: str, *,
             write_account: bool = False) -> None:
    """Save a stop the domain decided (`AppState.stop`) and notify the owner, in one transaction.

    With `write_account` the account is written too (its version moves), so the stop commits only
    over the account as read and a concurrent top-up that ends the arrears retries and sees the stop.
    Raises WriteConflict when the app (or the account) moved since it was read (the caller decides)."""
    after, stopped = stop
    put(app, after)
    subject, body = notice(ctx.catalog, "stopped", sdkappid=app.sdkappid, reason=stopped.reason, name=app.name,
                           why=why)
    items = notifications.compose(acct, stopped.kind, stopped.at, subject=subject, body=body,
                                  sdkappid=int(app.sdkappid))
    with ctx.uow() as u:
        store_app(u, ctx, app)
        notifications.enqueue(ctx, u, items)
        if write_account:
            u.accounts.save(acct)
        events.emit(u, ctx, "app.stopped", account_id=app.account_id, sdkappid=int(app.sdkappid), data=shapes.app(app))
        u.commit()
    notifications.dispatch(ctx, items, ctx.now)
