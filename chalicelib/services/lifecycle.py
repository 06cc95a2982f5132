"""Lifecycle use cases run by the jobs, one app at a time, each one unit of work (section 7). The data
of a reclaimed app is deleted by the RECLAIM_HOOKS (usage and notifications: DynamoDB directly)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from chalicelib import shapes
from chalicelib.domain.app import ExpiryWarning, StopReason
from chalicelib.domain.calendar import iso
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.lifecycle import (
    Enforcement,
    auto_renewal_step,
    enforcement,
    expiry_warning,
    renewals_due,
    will_try_auto_renew,
)
from chalicelib.domain.money import Cents, fmt
from chalicelib.domain.notices import notice, render
from chalicelib.domain.plugins import Line
from chalicelib.services import events, notifications, usage
from chalicelib.services.apps import load_app, put, refresh_dues, spendable, state, stop_app, store_app
from chalicelib.services.context import Ctx, page_cache
from chalicelib.services.plugins import grant
from chalicelib.services.purchases import Loaded, pay
from chalicelib.store.dynamodb import plumbing
from chalicelib.store.dynamodb.models import AccountModel, AppModel
from chalicelib.store.port import UnitOfWork

Outcome = str | dict[str, int]  # one outcome of the item, or counts (as the jobs' step runner takes)

# hooks that delete an app's data on reclamation (usage, user sets, plugin state); each returns a count
RECLAIM_HOOKS: list[Callable[[Ctx, int], int]] = [notifications.delete_for_app, usage.delete_for_app]


def heal(ctx: Ctx, app: AppModel) -> str:
    """Nothing to do for an app the index still lists (its copy was stale, or its state moved
    without its dues): rewrite its due times so the index stops listing it."""
    before = (app.warn_due_at, app.enforce_due_at, app.reclaim_due_at)
    refresh_dues(ctx, app)
    if (app.warn_due_at, app.enforce_due_at, app.reclaim_due_at) != before:
        with ctx.uow() as u:
            store_app(u, ctx, app)
            u.commit()
    return "skipped"


def reload_app(ctx: Ctx, app: AppModel) -> AppModel:
    """The app as stored now (after another writer won the race for it), for the jobs."""
    with ctx.uow() as u:
        return u.apps.find(int(app.sdkappid))


def _account(uow: UnitOfWork, account_id: str) -> AccountModel:
    acct = uow.accounts.get(account_id)
    if acct is None:
        raise NotFound(f"account {account_id} not found")
    return acct


def _addressee(uow: UnitOfWork, account_id: str) -> AccountModel:
    """The account a notice goes to (only read: its id, e-mail and phone), once per job page."""
    cache = page_cache()
    if cache is None:
        return _account(uow, account_id)
    if ("account", account_id) not in cache:
        cache["account", account_id] = _account(uow, account_id)
    return cache["account", account_id]  # type: ignore[no-any-return]


class WithAddressees:
    """A due page of apps whose accounts are read 100 apps at a time (one BatchGetItem of the
    accounts the page has not read yet) into the page's reads, for the steps' notices."""

    def __init__(self, page: Any, store: Callable[[], UnitOfWork]) -> None:
        self.page, self.store = page, store

    @property
    def cursor(self) -> Any:
        return self.page.cursor

    def __iter__(self) -> Iterator[AppModel]:
        apps = iter(self.page)
        while chunk := list(islice(apps, 100)):
            cache = page_cache()
            if cache is not None:
                wanted = sorted({a.account_id for a in chunk} - {k[1] for k in cache if k[0] == "account"})
                if wanted:
                    with self.store() as u:
                        for acct in u.accounts.many([(x,) for x in wanted]):
                            cache["account", acct.account_id] = acct
            yield from chunk


def with_addressees(ctx: Ctx, page: Any) -> WithAddressees:
    """A job's due page of apps with their accounts read in batches (the steps' notices)."""
    return WithAddressees(page, ctx.uow)


# ------------------------------------------------------------------ expiry warnings
def warn(ctx: Ctx, app: AppModel) -> str:
    """One warning (email + SMS) on each local day E-6 ... E+1 for a package not yet renewed; a package
    in mode auto is warned about only on a day when the balance does not cover its renewal."""
    u = ctx.uow()
    acct: AccountModel | None = None
    balance = None
    if will_try_auto_renew(state(app), ctx.catalog):  # the warning job moves no balance: the page's read will do
        acct = _addressee(u, app.account_id)
        balance = sum(spendable(acct))
    run = expiry_warning(state(app), app.warn_due_at, ctx.now, ctx.tz, ctx.catalog, balance)
    if run is None:
        return heal(ctx, app)
    if run.app is None:
        return "skipped"
    warning = run.warning
    items = []
    if warning is not None:
        items = notifications.compose(
            acct or _addressee(u, app.account_id), warning.kind, ctx.now,
            subject=render(ctx.catalog, "warning_subject", sdkappid=app.sdkappid, edition=app.edition,
                           expires_at=iso(app.expires_at)),
            body=_warning_body(ctx.catalog, app, warning, balance),
            sdkappid=int(app.sdkappid),
        )
    put(app, run.app)
    with u:
        store_app(u, ctx, app)
        notifications.enqueue(ctx, u, items)
        if items:
            events.emit(u, ctx, "app.expiry_warning", account_id=app.account_id, sdkappid=int(app.sdkappid),
                        data=shapes.app(app))
        u.commit()
    notifications.dispatch(ctx, items, ctx.now)
    return "warned" if items else "skipped"


def _warning_body(catalog: Catalog, app: AppModel, warning: ExpiryWarning, balance: Cents | None) -> str:
    days = (warning.expiry_day - warning.day).days
    when = render(catalog, "warning_when_past" if days < 0 else ("warning_when_today" if days == 0
                                                                 else "warning_when_ahead"), days=days)
    if warning.auto_short:
        what = render(catalog, "warning_auto_short", monthly=fmt(catalog.edition(app.edition).monthly_price),
                      balance=fmt(balance or 0), short=fmt(warning.auto_short))
    else:
        what = render(catalog, "warning_stopped" if warning.stopped else "warning_enabled")
    return render(catalog, "warning_body", edition=app.edition, sdkappid=app.sdkappid, name=app.name, when=when,
                  expires_at=iso(warning.expires_at), what=what)


# ------------------------------------------------------------------ expiry enforcement
def enforce(ctx: Ctx, app: AppModel) -> Outcome:
    """At and after expiry, inside the grace: the automatic renewals (base package, plugins, add-ons in
    mode auto) the balance covers, retried on every run; 24 h after expiry: stop (reason expired)."""
    if enforcement(state(app), app.enforce_due_at, ctx.now, ctx.catalog) == Enforcement.NOT_DUE:
        return heal(ctx, app)
    counts: dict[str, int] = {}
    while renewals_due(state(app), ctx.now, ctx.catalog) and (outcome := _auto_renew(ctx, app)) is not None:
        counts[outcome] = counts.get(outcome, 0) + 1
    if renewals_due(state(app), ctx.now, ctx.catalog):  # what the balance did not cover: tried again next run
        counts["renew_failed"] = 1
    if enforcement(state(app), app.enforce_due_at, ctx.now, ctx.catalog) == Enforcement.STOP:
        why = render(ctx.catalog, "stopped_expired", expired_at=iso(app.expires_at))
        with ctx.uow() as u:
            acct = _addressee(u, app.account_id)
        stop_app(ctx, app, acct, state(app).stop(StopReason.EXPIRED, ctx.now), why)
        counts["stopped"] = 1
    if not counts:
        return "skipped"
    return next(iter(counts)) if len(counts) == 1 and sum(counts.values()) == 1 else counts


def _auto_renew(ctx: Ctx, app: AppModel) -> str | None:
    """The next automatic renewal (or a line given up), in one transaction; None: nothing more."""
    with ctx.uow() as u:
        acct = _account(u, app.account_id)
        step = auto_renewal_step(state(app), sum(spendable(acct)), ctx.now, ctx.tz, ctx.catalog)
        if step is None:
            return None
        after, renewal = step
        order = None
        if renewal is not None:
            order, acct = pay(u, ctx, Loaded(app=app, account=acct, voucher=None, done=None), product=renewal.product,
                              kind=renewal.kind, months=renewal.months, starts_at=renewal.starts_at,
                              monthly_price=renewal.monthly_price, bounds=list(renewal.bounds), tier=renewal.tier,
                              quantity=renewal.quantity)
            if renewal.product != app.edition:
                grant(ctx, app, Line(renewal.product, renewal.tier, renewal.quantity), renewal.starts_at,
                      renewal.bounds[-1][1])
        store_app(u, ctx, put(app, after))
        if order is not None:
            events.emit(u, ctx, "package.renewed", account_id=app.account_id, sdkappid=int(app.sdkappid),
                        data=shapes.purchase(order, app, acct, None, ctx.now))
        else:
            events.emit(u, ctx, "package.renewal_failed", account_id=app.account_id, sdkappid=int(app.sdkappid),
                        data=shapes.app(app))
        u.commit()
    return "renewed" if renewal is not None else "given_up"


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
    u = ctx.uow()
    acct = _account(u, app.account_id)
    acct.apps_count = max(0, int(acct.apps_count) - 1)
    put(app, after)
    _drop_plugin_state(ctx, app)
    subject, body = notice(ctx.catalog, "reclaimed", sdkappid=app.sdkappid, name=app.name)
    items = notifications.compose(acct, reclaimed.kind, reclaimed.at, subject=subject, body=body,
                                  sdkappid=int(app.sdkappid))
    with u:
        store_app(u, ctx, app)
        u.accounts.save(acct)
        notifications.enqueue(ctx, u, items)
        events.emit(u, ctx, "app.reclaimed", account_id=app.account_id, sdkappid=int(app.sdkappid),
                    data=shapes.app(app))
        u.commit()
    notifications.dispatch(ctx, items, ctx.now)
    return _purge(ctx, app)


def _drop_plugin_state(ctx: Ctx, app: AppModel) -> None:
    """Plugin and add-on state goes with a reclaimed app's data; the quota plugin (push) ends now,
    and its end and quota log stay only while the push-quota job may still bill a day of it (it
    clears them then)."""
    quota_plugin = ctx.catalog.quota_plugin
    for product in app.plugins_with_until():
        until = app.until(product)
        keep = product == quota_plugin and app.push_billing_shard is not None and until is not None
        app.set_until(product, min(until, ctx.now) if keep and until is not None else None)
    if app.push_billing_shard is None:
        app.push_quota_log = None
    app.push_quota = None
    app.clear_used_once()


def _purge(ctx: Ctx, app: AppModel) -> str:
    """Delete a reclaimed app's data (usage, user sets, notifications but the reclaimed notice);
    then the app leaves the reclamation index."""
    for hook in RECLAIM_HOOKS:
        hook(ctx, int(app.sdkappid))
    with ctx.uow() as u:
        store_app(u, ctx, put(app, state(app).purged()))
        u.commit()
    return "reclaimed"


def reclaim_due(ctx: Ctx, app: AppModel) -> str:
    if app.reclaim_due_at is None or app.reclaim_due_at > ctx.now:
        return "skipped"
    return reclaim(ctx, app)


def delete_app(ctx: Ctx, sdkappid: int) -> AppModel:
    """DELETE /v1/apps/{id}: allowed only when disabled or stopped; reclaims at once."""
    app = load_app(ctx, sdkappid, writable=True)
    state(app).ensure_deletable()
    outcome = plumbing.retry_step(app, lambda a: reclaim(ctx, a), lambda a: load_app(ctx, int(a.sdkappid)))
    if outcome != "reclaimed":
        raise Conflict(f"app {sdkappid} changed while being deleted; try again")
    return load_app(ctx, sdkappid)
