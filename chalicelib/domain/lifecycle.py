"""What the lifecycle jobs decide for an app over time (section 7): when each job is next due, the
expiry warnings, the auto-renew attempt, the stop on expiry. Pure: state and `now` in, decision out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from chalicelib.domain.app import DEVELOPER, AppState, ExpiryWarning, Renewal, Status, StopReason
from chalicelib.domain.calendar import local_date, local_midnight
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.money import Cents
from chalicelib.domain.orders import period_bounds


@dataclass(frozen=True)
class Dues:
    warn_due_at: datetime | None
    enforce_due_at: datetime | None
    reclaim_due_at: datetime | None


def dues(app: AppState, tz: ZoneInfo, catalog: Catalog) -> Dues:
    """When each lifecycle job next has something to do for this app (None: nothing)."""
    reclaim_after = timedelta(days=catalog.lifecycle("reclaim_after_days"))
    if app.status == Status.ENABLED:
        return Dues(
            warn_due_at=next_warning_due(app, tz, catalog),
            enforce_due_at=app.expires_at
            if will_try_auto_renew(app)
            else app.expires_at + timedelta(hours=catalog.lifecycle("stop_after_expiry_hours")),
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
                   catalog: Catalog) -> WarningRun | None:
    """The warning run on an app listed as due at `due_at`: one warning per local day E-6 ... E+1.

    None: nothing is due (the listing was stale: its due times need rewriting)."""
    if not warns(app) or due_at is None or due_at > now:
        return None
    today = local_date(now, tz)
    first, last = warning_days(app.expires_at, tz, catalog)
    if app.last_warned_day == today.isoformat():
        return WarningRun(None)
    if first <= today <= last:
        warning = ExpiryWarning(today, local_date(app.expires_at, tz), app.expires_at,
                                stopped=app.status == Status.STOPPED)
        return WarningRun(replace(app, last_warned_day=today.isoformat()), warning)
    if today > last:  # the window passed without a run on its last day: nothing more to send
        return WarningRun(replace(app, last_warned_day=last.isoformat()))
    return WarningRun(None)


# ------------------------------------------------------------------ expiry enforcement
class Enforcement(StrEnum):
    NOT_DUE = "not_due"  # the listing was stale: its due times need rewriting
    WAIT = "wait"  # listed, but nothing to do yet
    AUTO_RENEW = "auto_renew"  # at expiry, auto-renew on: try once
    STOP = "stop"  # 24 h after expiry, not renewed: stop (reason expired)


def enforcement(app: AppState, due_at: datetime | None, now: datetime, catalog: Catalog) -> Enforcement:
    """At expiry: auto-renew if asked; 24 h after expiry: stop (reason expired) (sections 5, 7)."""
    if app.status != Status.ENABLED or due_at is None or due_at > now:
        return Enforcement.NOT_DUE
    stop_at = app.expires_at + timedelta(hours=catalog.lifecycle("stop_after_expiry_hours"))
    if now < app.expires_at:
        return Enforcement.WAIT
    if will_try_auto_renew(app) and now < stop_at:
        return Enforcement.AUTO_RENEW
    if now < stop_at:
        return Enforcement.WAIT
    return Enforcement.STOP


def will_try_auto_renew(app: AppState) -> bool:
    """Auto-renew is tried once per expiry, for a paid edition with the flag on."""
    return app.auto_renew and app.edition != DEVELOPER and app.renew_attempted_for != app.expires_at


def auto_renew(app: AppState, balance: Cents, tz: ZoneInfo, catalog: Catalog) -> tuple[AppState, Renewal | None]:
    """The auto-renew attempt at expiry: when cash + gift covers one month's price, a 1-month renewal
    from the old expiry (to charge); otherwise nothing is bought. Either way it is not tried again
    for this expiry."""
    tried = replace(app, renew_attempted_for=app.expires_at)
    monthly = catalog.edition(app.edition).monthly_price
    if balance < monthly:
        return tried, None
    bounds = tuple(period_bounds(app.expires_at, 1, tz))
    renewal = Renewal(app.edition, 1, app.expires_at, monthly, bounds)
    return replace(tried, expires_at=bounds[-1][1], last_warned_day=None), renewal
