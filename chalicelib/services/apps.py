"""Use cases on apps: create, read, auto-renew flag, Developer extension, and the app write rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.domain.calendar import add_months
from chalicelib.domain.errors import Conflict, Gone, NotFound
from chalicelib.domain.lifecycle import AppState, dues
from chalicelib.services import idempotency, notifications
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import Idem, Response
from chalicelib.services.ledger import save_account
from chalicelib.store import uow, views
from chalicelib.store.models import AccountModel, AppModel, MetaModel, OffSpanMap, due_shard
from chalicelib.store.paging import Page, page

SDKAPPID_BASE = 1_400_000_000


def state(app: AppModel) -> AppState:
    return AppState(
        edition=app.edition,
        status=app.status,
        expires_at=app.expires_at,
        auto_renew=bool(app.auto_renew),
        stopped_at=app.stopped_at,
        disabled_at=app.disabled_at,
        stop_reason=app.stop_reason,
        purge_pending=bool(app.purge_pending),
        reclaimed_at=app.reclaimed_at,
        last_warned_day=app.last_warned_day,
        renew_attempted_for=app.renew_attempted_for,
    )


def refresh_dues(ctx: Ctx, app: AppModel) -> None:
    """Recompute the sparse due-time attributes the lifecycle jobs query by."""
    d = dues(state(app), ctx.tz, ctx.catalog)
    app.warn_due_at = d.warn_due_at
    app.enforce_due_at = d.enforce_due_at
    app.reclaim_due_at = d.reclaim_due_at


def save_app(tx: TransactWrite, ctx: Ctx, app: AppModel, *, new: bool = False) -> None:
    """Every app write: dues recomputed, written only over the version we read."""
    refresh_dues(ctx, app)
    old = int(app.version)
    app.version = old + 1
    condition = AppModel.sdkappid.does_not_exist() if new else AppModel.version == old
    tx.save(app, condition=condition)


def load_app(ctx: Ctx, sdkappid: int, *, consistent: bool = True, writable: bool = False) -> AppModel:
    """The app if the caller may see it (another account's app is 'not found')."""
    try:
        app = AppModel.get(sdkappid, consistent_read=consistent)
    except AppModel.DoesNotExist:
        raise NotFound(f"app {sdkappid} not found") from None
    if ctx.principal.role == "customer" and ctx.principal.account_id != app.account_id:
        raise NotFound(f"app {sdkappid} not found")
    return ensure_writable(app) if writable else app


def ensure_writable(app: AppModel) -> AppModel:
    """A reclaimed app is a tombstone: any write to it answers 410."""
    if app.status == "reclaimed":
        raise Gone(f"app {app.sdkappid} was reclaimed")
    return app


def ensure_in_service(app: AppModel, why: str) -> AppModel:
    """The app must be `enabled` (410 once reclaimed, else 409 not_in_service)."""
    ensure_writable(app)
    if app.status != "enabled":
        raise Conflict(f"app {app.sdkappid} is {app.status}: {why}", code="not_in_service")
    return app


def _next_sdkappid() -> int:
    item = MetaModel("sdkappid")
    item.update(actions=[MetaModel.counter.add(1)])
    return SDKAPPID_BASE + int(item.counter)


def create_app(ctx: Ctx, account_id: str, name: str, region: str, idem: Idem = idempotency.NONE) -> dict[str, Any]:
    ctx.principal.check_account(account_id)
    if ctx.principal.role not in ("operator", "customer"):
        ctx.principal.require("operator", "customer")
    limit = ctx.catalog.max_apps
    allocated: list[int] = []  # one sdkappid however often the attempt runs

    def act(tx: TransactWrite) -> Response:
        try:
            acct = AccountModel.get(account_id, consistent_read=True)
        except AccountModel.DoesNotExist:
            raise NotFound(f"account {account_id} not found") from None
        if int(acct.apps_count) >= limit:
            raise Conflict(f"an account may own at most {limit} apps", code="limit_exceeded")
        if not allocated:
            allocated.append(_next_sdkappid())
        sdkappid = allocated[0]
        app = AppModel(
            sdkappid,
            account_id=account_id,
            name=name,
            region=region,
            edition="developer",
            status="enabled",
            created_at=ctx.now,
            expires_at=add_months(ctx.now, 1, ctx.tz),
            auto_renew=False,
            had_paid=False,
            version=0,
            due_shard=due_shard(sdkappid),
        )
        acct.apps_count = int(acct.apps_count) + 1
        save_app(tx, ctx, app, new=True)
        save_account(tx, acct)
        return 201, views.app(app)

    return idempotency.once(idem, ctx.now, ctx.catalog.lifecycle("idempotency_ttl_hours"), act)[1]


def get_app(ctx: Ctx, sdkappid: int) -> dict[str, Any]:
    return views.app(load_app(ctx, sdkappid, consistent=False))


def list_apps(ctx: Ctx, account_id: str, limit: int, token: str | None) -> Page:
    ctx.principal.check_account(account_id)
    return page(AppModel.by_account.query, account_id, views.app, limit, token)


def update_app(ctx: Ctx, sdkappid: int, change: Any, idem: Idem = idempotency.NONE) -> dict[str, Any]:
    """Load, apply `change(app)` (which may raise), save under the version condition; retried."""

    def act(tx: TransactWrite) -> Response:
        app = load_app(ctx, sdkappid, writable=True)
        change(app)
        save_app(tx, ctx, app)
        return 200, views.app(app)

    return idempotency.once(idem, ctx.now, ctx.catalog.lifecycle("idempotency_ttl_hours"), act)[1]


def set_auto_renew(ctx: Ctx, sdkappid: int, enabled: bool) -> dict[str, Any]:
    def change(app: AppModel) -> None:
        if enabled and app.edition == "developer":
            raise Conflict("the Developer edition does not renew; ask for a trial extension")
        app.auto_renew = enabled

    return update_app(ctx, sdkappid, change)


def extend_trial(ctx: Ctx, sdkappid: int, idem: Idem = idempotency.NONE) -> dict[str, Any]:
    """Developer extension: after expiry (before reclamation) expires add_months(now, 1), enabled."""

    def change(app: AppModel) -> None:
        if app.edition != "developer":
            raise Conflict("only a Developer app can be extended")
        if ctx.now < app.expires_at:
            raise Conflict("a Developer app can be extended only after it expires")
        reenable(app, add_months(ctx.now, 1, ctx.tz), ctx.now)

    return update_app(ctx, sdkappid, change, idem)


OFF_LOG_DAYS = 100  # spans that ended longer ago than this no longer matter to any unsettled month


def go_off(app: AppModel, status: str, now: datetime, reason: str | None = None) -> None:
    """enabled -> stopped (reason expired | arrears) or disabled; every such change goes through
    here, so the out-of-service span the monthly MAU proration reads is always recorded. A stopped
    app that is then disabled (refund) stays in the span it opened when it stopped."""
    if app.status == "enabled":
        recent = [s for s in app.off_log or [] if s.on_at is None or s.on_at > now - timedelta(days=OFF_LOG_DAYS)]
        app.off_log = [*recent, OffSpanMap(off_at=now, on_at=None, edition=app.edition)]
    app.status = status
    app.stop_reason = reason
    if status == "stopped":
        app.stopped_at = now
    else:
        app.disabled_at = now


def bring_back(app: AppModel, now: datetime) -> None:
    """stopped or disabled -> enabled (purchase, extension, end of arrears): closes the span."""
    for span in app.off_log or []:
        if span.on_at is None:
            span.on_at = now
    app.status = "enabled"
    app.stop_reason = None
    app.stopped_at = None
    app.disabled_at = None


def reenable(app: AppModel, expires_at: datetime, now: datetime) -> None:
    bring_back(app, now)
    app.expires_at = expires_at
    app.last_warned_day = None


def stop_app(ctx: Ctx, app: AppModel, acct: AccountModel, reason: str, why: str, *,
             write_account: bool = False) -> None:
    """Stop an enabled app (reason expired | arrears) and notify its owner, in one transaction.

    With `write_account` the account is written too (its version moves), so the stop commits only
    over the account as read and a concurrent top-up that ends the arrears retries and sees the stop.
    Raises TransactWriteError when the app (or the account) moved since it was read (the caller decides)."""
    go_off(app, "stopped", ctx.now, reason)
    items = notifications.compose(
        acct, "stopped", ctx.now,
        subject=f"App {app.sdkappid} stopped ({reason})",
        body=f"App {app.sdkappid} ({app.name}) was stopped: {why}",
        sdkappid=int(app.sdkappid),
    )
    with uow.write() as tx:
        save_app(tx, ctx, app)
        notifications.record(tx, items)
        if write_account:
            save_account(tx, acct)
    notifications.dispatch(items, ctx.now)
