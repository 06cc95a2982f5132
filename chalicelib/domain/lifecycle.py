"""What the lifecycle jobs decide for an app over time (section 7): when each job is next due, the
expiry warnings, the auto-renew attempt, the stop on expiry. Pure: state and `now` in, decision out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from chalicelib.domain.app import AppState, ExpiryWarning, Renewal, Status, StopReason
from chalicelib.domain.calendar import local_date, local_midnight
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.money import Cents
from chalicelib.domain.orders import period_bounds
from chalicelib.domain.plugins import Line, monthly_price
from chalicelib.domain.plugins import period_bounds as line_bounds
from chalicelib.domain.renewal import Extra, Mode, in_grace


@dataclass(frozen=True)
class Dues:
    warn_due_at: datetime | None
    enforce_due_at: datetime | None
    reclaim_due_at: datetime | None


def dues(app: AppState, tz: ZoneInfo, catalog: Catalog) -> Dues:
    """When each lifecycle job next has something to do for this app (None: nothing)."""
    reclaim_after = timedelta(days=catalog.lifecycle("reclaim_after_days"))
    if app.status == Status.ENABLED:
        base_due = (app.expires_at if will_try_auto_renew(app, catalog)
                    else app.expires_at + timedelta(hours=catalog.lifecycle("stop_after_expiry_hours")))
        return Dues(
            warn_due_at=next_warning_due(app, tz, catalog) if warns(app) else None,
            enforce_due_at=min([base_due, *(e.until for e in app.extras if _extra_auto(e))]),
            reclaim_due_at=None,
        )
    if app.status == Status.STOPPED and app.stopped_at is not None:
        return Dues(next_warning_due(app, tz, catalog) if warns(app) else None, None, app.stopped_at + reclaim_after)
    if app.status == Status.DISABLED and app.disabled_at is not None:
        return Dues(None, None, app.disabled_at + reclaim_after)
    if app.awaiting_purge:  # the tombstone is written, the data not yet gone
        return Dues(None, None, app.reclaimed_at)
    return Dues(None, None, None)


# ------------------------------------------------------------------ expiry warnings
def warns(app: AppState) -> bool:
    """Expiry warnings go to an enabled app, and to one stopped because that package expired: the
    stop (24 h after E) can come before E+1's warning run, and E+1 is still a warning day."""
    if app.no_renew:  # mode none: never warned about (renewal management)
        return False
    return app.status == Status.ENABLED or (app.status == Status.STOPPED and app.stop_reason == StopReason.EXPIRED)


def warning_days(expires_at: datetime, tz: ZoneInfo, catalog: Catalog) -> tuple[date, date]:
    """First and last local day of the expiry warnings: E-6 ... E+1 (section 7)."""
    e_day = local_date(expires_at, tz)
    return (
        e_day - timedelta(days=catalog.lifecycle("warning_days_before")),
        e_day + timedelta(days=catalog.lifecycle("warning_days_after")),
    )


def next_warning_due(app: AppState, tz: ZoneInfo, catalog: Catalog) -> datetime | None:
    first, last = warning_days(app.expires_at, tz, catalog)
    if app.last_warned_day is not None:
        first = max(first, date.fromisoformat(app.last_warned_day) + timedelta(days=1))
    return local_midnight(first, tz) if first <= last else None


@dataclass(frozen=True)
class WarningRun:
    """What the warning run does for a listed app: the app to save (None: nothing to write today)
    and the warning to send with it, if any."""

    app: AppState | None
    warning: ExpiryWarning | None = None


def expiry_warning(app: AppState, due_at: datetime | None, now: datetime, tz: ZoneInfo,
                   catalog: Catalog, balance: Cents | None = None) -> WarningRun | None:
    """The warning run on an app listed as due at `due_at`: one warning per local day E-6 ... E+1.
    A package in mode auto is not warned about on a day when `balance` (cash + gift) covers its
    monthly price; on a day when it does not, the warning says by how much the renewal will fail.

    None: nothing is due (the listing was stale: its due times need rewriting)."""
    if not warns(app) or due_at is None or due_at > now:
        return None
    today = local_date(now, tz)
    first, last = warning_days(app.expires_at, tz, catalog)
    if app.last_warned_day == today.isoformat():
        return WarningRun(None)
    short = None
    if app.status == Status.ENABLED and will_try_auto_renew(app, catalog) and balance is not None:
        short = max(0, catalog.edition(app.edition).monthly_price - balance)
        if short == 0 and today <= last:  # the renewal will happen: nothing to say today (asked again tomorrow)
            return WarningRun(None)
    if first <= today <= last:
        warning = ExpiryWarning(today, local_date(app.expires_at, tz), app.expires_at,
                                stopped=app.status == Status.STOPPED, auto_short=short)
        return WarningRun(replace(app, last_warned_day=today.isoformat()), warning)
    if today > last:  # the window passed without a run on its last day: nothing more to send
        return WarningRun(replace(app, last_warned_day=last.isoformat()))
    return WarningRun(None)


# ------------------------------------------------------------------ expiry enforcement
class Enforcement(StrEnum):
    NOT_DUE = "not_due"  # the listing was stale: its due times need rewriting
    WAIT = "wait"  # listed, but nothing (more) to do yet: automatic renewals are auto_renewal_step's
    STOP = "stop"  # 24 h after expiry, not renewed: stop (reason expired)


def enforcement(app: AppState, due_at: datetime | None, now: datetime, catalog: Catalog) -> Enforcement:
    """24 h after expiry, not renewed: stop (reason expired) (section 7). The automatic renewals the
    run makes first are decided by auto_renewal_step."""
    if app.status != Status.ENABLED or due_at is None or due_at > now:
        return Enforcement.NOT_DUE
    stop_at = app.expires_at + timedelta(hours=catalog.lifecycle("stop_after_expiry_hours"))
    return Enforcement.STOP if now >= stop_at else Enforcement.WAIT


def will_try_auto_renew(app: AppState, catalog: Catalog) -> bool:
    """Auto-renew is tried at expiry and on every enforcement run of the grace, for a paid edition
    (not the trial edition) with the flag on (renewal management: mode auto)."""
    return app.auto_renew and app.edition != catalog.trial_edition


def _extra_auto(e: Extra) -> bool:
    """A plugin/add-on line in mode auto whose expiry still has a renewal to try."""
    return e.mode == Mode.AUTO and e.given_up != e.until


def auto_renewal_step(app: AppState, balance: Cents, now: datetime, tz: ZoneInfo,
                      catalog: Catalog) -> tuple[AppState, Renewal | None] | None:
    """The next automatic renewal the enforcement run makes for an enabled app at `now`, with the
    balance (cash + gift) it has: the base package, then each plugin/add-on line in mode auto, each
    at or after its expiry and inside the grace, when the balance covers a month of it: a 1-month
    renewal (no voucher) from the old expiry (a plugin's period rule applies). A line whose grace
    ended unrenewed is given up (the state changes, nothing is bought). None: nothing (more) to do;
    an item the balance does not cover is left for the next run of the grace."""
    if app.status != Status.ENABLED:
        return None
    if will_try_auto_renew(app, catalog) and in_grace(app.expires_at, now, catalog):
        monthly = catalog.edition(app.edition).monthly_price
        if balance >= monthly:
            bounds = tuple(period_bounds(app.expires_at, 1, tz))
            renewal = Renewal(app.edition, 1, app.expires_at, monthly, bounds)
            return replace(app, expires_at=bounds[-1][1], last_warned_day=None,
                           renew_attempted_for=app.expires_at), renewal
    for e in app.extras:
        if not _extra_auto(e) or now < e.until:
            continue
        if not in_grace(e.until, now, catalog):
            return replace(app, extras=tuple(replace(x, given_up=e.until) if x is e else x for x in app.extras)), None
        line = Line(e.product, e.tier, e.quantity)
        monthly = monthly_price(catalog, line)
        if balance >= monthly:
            bounds = tuple(line_bounds(catalog, line, e.until, 1, tz))
            renewal = Renewal(e.product, 1, e.until, monthly, bounds, e.tier, e.quantity)
            return app.extra_bought(e.product, e.tier, e.quantity, bounds[-1][1]), renewal
    return None


def renewals_due(app: AppState, now: datetime, catalog: Catalog) -> bool:
    """Whether an automatic renewal is due now (the base package in the grace, or a line in mode auto
    at or after its expiry): after auto_renewal_step has made what the balance covers, one still due
    was not covered."""
    if app.status != Status.ENABLED:
        return False
    base = will_try_auto_renew(app, catalog) and in_grace(app.expires_at, now, catalog)
    return base or any(_extra_auto(e) and now >= e.until for e in app.extras)
