"""App lifecycle rules: what a purchase means for an app, and when each job is next due for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.calendar import local_date, local_midnight
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.errors import Conflict, Gone, InvalidRequest


@dataclass(frozen=True)
class AppState:
    edition: str
    status: str
    expires_at: datetime
    auto_renew: bool = False
    stopped_at: datetime | None = None
    disabled_at: datetime | None = None
    stop_reason: str | None = None
    purge_pending: bool = False
    reclaimed_at: datetime | None = None
    last_warned_day: str | None = None
    renew_attempted_for: datetime | None = None


@dataclass(frozen=True)
class PurchasePlan:
    kind: str  # new | renewal | upgrade | reactivation
    starts_at: datetime
    upgrade: bool


@dataclass(frozen=True)
class Dues:
    warn_due_at: datetime | None
    enforce_due_at: datetime | None
    reclaim_due_at: datetime | None


def plan_purchase(app: AppState, edition: str, now: datetime, catalog: Catalog) -> PurchasePlan:
    """Decide the kind of a base-package purchase and where its first period starts (section 5)."""
    if edition not in catalog.purchasable_editions:
        raise InvalidRequest(f"edition must be one of {', '.join(catalog.purchasable_editions)}; "
                             f"{edition!r} cannot be bought")
    if app.status == "reclaimed":
        raise Gone("the app was reclaimed")
    if app.status in ("disabled", "stopped"):
        return PurchasePlan(kind="reactivation", starts_at=now, upgrade=False)
    if app.edition == "developer":
        return PurchasePlan(kind="new", starts_at=now, upgrade=False)
    if catalog.rank(edition) < catalog.rank(app.edition):
        raise Conflict(
            "downgrade is not allowed: refund the current package, then buy the lower edition",
            code="downgrade_not_allowed",
        )
    if edition == app.edition:
        grace = timedelta(hours=catalog.lifecycle("renewal_grace_hours"))
        start = app.expires_at if now <= app.expires_at + grace else now
        return PurchasePlan(kind="renewal", starts_at=start, upgrade=False)
    return PurchasePlan(kind="upgrade", starts_at=now, upgrade=True)


def dues(app: AppState, tz: ZoneInfo, catalog: Catalog) -> Dues:
    """When each lifecycle job next has something to do for this app (None: nothing)."""
    reclaim_after = timedelta(days=catalog.lifecycle("reclaim_after_days"))
    if app.status == "enabled":
        return Dues(
            warn_due_at=next_warning_due(app, tz, catalog),
            enforce_due_at=app.expires_at
            if will_try_auto_renew(app)
            else app.expires_at + timedelta(hours=catalog.lifecycle("stop_after_expiry_hours")),
            reclaim_due_at=None,
        )
    if app.status == "stopped" and app.stopped_at is not None:
        return Dues(next_warning_due(app, tz, catalog) if warns(app) else None, None, app.stopped_at + reclaim_after)
    if app.status == "disabled" and app.disabled_at is not None:
        return Dues(None, None, app.disabled_at + reclaim_after)
    if app.status == "reclaimed" and app.purge_pending:  # the tombstone is written, the data not yet gone
        return Dues(None, None, app.reclaimed_at)
    return Dues(None, None, None)


def warns(app: AppState) -> bool:
    """Expiry warnings go to an enabled app, and to one stopped because that package expired: the
    stop (24 h after E) can come before E+1's warning run, and E+1 is still a warning day."""
    return app.status == "enabled" or (app.status == "stopped" and app.stop_reason == "expired")


def will_try_auto_renew(app: AppState) -> bool:
    """Auto-renew is tried once per expiry, for a paid edition with the flag on."""
    return app.auto_renew and app.edition != "developer" and app.renew_attempted_for != app.expires_at


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
