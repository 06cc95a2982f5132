"""The app aggregate (billing-rules 3, 5, 7): its status and every change of it, as pure transitions.

A transition takes the state and `now` and answers the new state, plus the events the service
records with it (a notification to send, a renewal to charge) as plain data. Nothing here reads a
clock or storage; the services load an `AppState`, ask it, and save what it answers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import ClassVar, NamedTuple
from zoneinfo import ZoneInfo

from chalicelib.domain.calendar import add_months
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.errors import Conflict, Gone, InvalidRequest
from chalicelib.domain.money import Cents
from chalicelib.domain.renewal import BASE, Extra, Mode, Package, check_mode, with_extra_bought, with_extra_ended

# The trial edition (section 3) is the catalog's (Catalog.trial_edition): the services pass it. A state
# built without a catalog (a unit test of the aggregate) takes the shipped catalog's by default.
SHIPPED_TRIAL = "developer"
OFF_LOG_DAYS = 100  # spans that ended longer ago than this no longer matter to any unsettled month


class Status(StrEnum):
    """An app's status (section 7). Only an `enabled` app logs users in."""

    ENABLED = "enabled"
    DISABLED = "disabled"  # after a base-package refund, or on request (DisabledReason)
    STOPPED = "stopped"  # with a StopReason
    RECLAIMED = "reclaimed"  # a tombstone: every later write answers 410


class StopReason(StrEnum):
    EXPIRED = "expired"  # not renewed within 24 h after expiry
    ARREARS = "arrears"  # the account stayed in arrears 24 h after a bill


class DisabledReason(StrEnum):
    REFUNDED = "refunded"  # the base package was refunded
    REQUESTED = "requested"  # the customer (or an operator) disabled it


class OffSpan(NamedTuple):
    """A time the app was out of service (stopped or disabled), for the monthly MAU proration."""

    off_at: datetime
    on_at: datetime | None  # None: still out of service
    edition: str  # the edition it had when it went out of service


# ------------------------------------------------------------------ events (plain data)
@dataclass(frozen=True)
class Stopped:
    """The app stopped: its owner is notified."""

    kind: ClassVar[str] = "stopped"
    reason: StopReason
    at: datetime


@dataclass(frozen=True)
class Reclaimed:
    """The app became a tombstone: its owner is notified and its data is to be deleted."""

    kind: ClassVar[str] = "reclaimed"
    at: datetime


@dataclass(frozen=True)
class ExpiryWarning:
    """One expiry warning (email + SMS) for local day `day` of a package expiring at `expires_at`."""

    kind: ClassVar[str] = "expiry_warning"
    day: date
    expiry_day: date
    expires_at: datetime
    stopped: bool  # sent after the stop (E+1): the text says how to bring the app back
    auto_short: Cents | None = None  # mode auto, not covered: what the balance lacks for the renewal


@dataclass(frozen=True)
class Renewal:
    """A prepaid renewal to charge (no voucher): `months` periods `bounds` of `product`."""

    kind: ClassVar[str] = "auto_renewal"
    product: str
    months: int
    starts_at: datetime
    monthly_price: Cents
    bounds: tuple[tuple[datetime, datetime], ...]
    tier: str | None = None  # a plugin/add-on line's (renewal management)
    quantity: int = 1


Event = Stopped | Reclaimed | ExpiryWarning | Renewal


@dataclass(frozen=True)
class PurchasePlan:
    kind: str  # new | renewal | upgrade | reactivation
    starts_at: datetime
    upgrade: bool


# ------------------------------------------------------------------ the aggregate
@dataclass(frozen=True)
class AppState:
    edition: str
    status: Status
    expires_at: datetime
    auto_renew: bool = False
    stopped_at: datetime | None = None
    disabled_at: datetime | None = None
    stop_reason: StopReason | None = None
    purge_pending: bool = False  # reclaimed, its data not yet deleted
    reclaimed_at: datetime | None = None
    last_warned_day: str | None = None  # local day (ISO) of the last expiry warning
    renew_attempted_for: datetime | None = None  # the expiry whose auto-renew was tried
    had_paid: bool = False  # once paid, never the trial edition again
    off_log: tuple[OffSpan, ...] | None = None  # recent out-of-service spans (None: none recorded yet)
    disabled_reason: DisabledReason | None = None
    # renewal management (issue 18): the base package's mode `none`, and the plugin/add-on lines
    no_renew: bool = False
    extras: tuple[Extra, ...] = ()

    @classmethod
    def new(cls, now: datetime, tz: ZoneInfo, trial: str = SHIPPED_TRIAL) -> AppState:
        """A new app: on the trial edition, enabled, expiring add_months(created, 1) (section 3)."""
        return cls(edition=trial, status=Status.ENABLED, expires_at=add_months(now, 1, tz))

    # ---------------------------------------------------------- what it may do
    @property
    def in_service(self) -> bool:
        return self.status == Status.ENABLED

    def ensure_writable(self, sdkappid: int) -> None:
        """A reclaimed app is a tombstone: any write to it answers 410."""
        if self.status == Status.RECLAIMED:
            raise Gone(f"app {sdkappid} was reclaimed")

    def ensure_in_service(self, sdkappid: int, why: str) -> None:
        """The app must be `enabled` (410 once reclaimed, else 409 not_in_service)."""
        self.ensure_writable(sdkappid)
        if not self.in_service:
            raise Conflict(f"app {sdkappid} is {self.status}: {why}", code="not_in_service")

    @property
    def reclaimable(self) -> bool:
        """Stopped or disabled: reclaimed 90 days later, or at once when deleted."""
        return self.status in (Status.STOPPED, Status.DISABLED)

    @property
    def awaiting_purge(self) -> bool:
        """Reclaimed, its data not yet deleted (a crash between the two steps is finished later)."""
        return self.status == Status.RECLAIMED and self.purge_pending

    def ensure_deletable(self) -> None:
        if not self.reclaimable:
            raise Conflict("only a disabled or stopped app can be deleted (refund it first)")

    def stopped_for(self, reason: StopReason, at: datetime) -> bool:
        """Stopped with this reason at this instant."""
        return self.status == Status.STOPPED and self.stop_reason == reason and self.stopped_at == at

    @property
    def off_spans(self) -> tuple[OffSpan, ...]:
        """The out-of-service spans the monthly bill reads; an app stopped or disabled before spans
        were recorded has the one its stop (or disable) instant implies."""
        if self.off_log is not None:
            return self.off_log
        off_at = self.stopped_at or self.disabled_at
        return () if self.in_service or off_at is None else (OffSpan(off_at, None, self.edition),)

    # ---------------------------------------------------------- transitions
    def _go_off(self, status: Status, now: datetime, reason: StopReason | None = None) -> AppState:
        """enabled -> stopped or disabled opens an out-of-service span (spans that ended more than
        OFF_LOG_DAYS ago are dropped). A stopped app that is then disabled (refund) stays in the
        span it opened when it stopped."""
        off_log = self.off_log
        if self.status == Status.ENABLED:
            horizon = now - timedelta(days=OFF_LOG_DAYS)
            recent = tuple(s for s in off_log or () if s.on_at is None or s.on_at > horizon)
            off_log = (*recent, OffSpan(now, None, self.edition))
        if status == Status.STOPPED:
            return replace(self, status=status, stop_reason=reason, stopped_at=now, off_log=off_log)
        return replace(self, status=status, stop_reason=reason, disabled_at=now, off_log=off_log,
                       disabled_reason=DisabledReason.REFUNDED)

    def stop(self, reason: StopReason, now: datetime) -> tuple[AppState, Stopped]:
        """enabled -> stopped (reason expired | arrears); the owner is notified."""
        return self._go_off(Status.STOPPED, now, reason), Stopped(reason, now)

    def disable(self, now: datetime) -> AppState:
        """A base-package refund: disabled (also when stopped), expired now, auto-renew off."""
        return replace(self._go_off(Status.DISABLED, now), expires_at=now, auto_renew=False)

    def disable_on_request(self, sdkappid: int, now: datetime) -> AppState:
        """A customer or an operator disables an enabled app (section 7): its packages keep running out
        their terms, nothing is refunded; it is out of service (MAU proration) and reclaimed 90 days on
        unless enabled again."""
        self.ensure_writable(sdkappid)
        if self.status != Status.ENABLED:
            raise Conflict(f"app {sdkappid} is {self.status}: only an enabled app can be disabled")
        return replace(self._go_off(Status.DISABLED, now), disabled_reason=DisabledReason.REQUESTED)

    def enable(self, sdkappid: int, now: datetime, trial: str = SHIPPED_TRIAL) -> AppState:
        """disabled -> enabled while its base package (or the trial edition's term) is still valid
        (section 7); an enabled app stays as it is."""
        self.ensure_writable(sdkappid)
        if self.status == Status.ENABLED:
            return self
        if self.status != Status.DISABLED:
            raise Conflict(f"app {sdkappid} is {self.status}: only a purchase brings it back")
        if now >= self.expires_at:
            what = f"{trial.capitalize()} term" if self.edition == trial else f"{self.edition} package"
            raise Conflict(f"app {sdkappid} cannot be enabled: its {what} is not valid (expired "
                           f"{self.expires_at.isoformat()}); buy a package to bring it back")
        return self.bring_back(now)

    def bring_back(self, now: datetime) -> AppState:
        """stopped or disabled -> enabled (purchase, extension, end of arrears): the open span closes."""
        off_log = None if self.off_log is None else tuple(
            s if s.on_at is not None else s._replace(on_at=now) for s in self.off_log
        )
        return replace(self, status=Status.ENABLED, stop_reason=None, stopped_at=None, disabled_at=None,
                       off_log=off_log, disabled_reason=None)

    def reenable(self, expires_at: datetime, now: datetime) -> AppState:
        """Back in service with a new expiry; the warnings start again for it."""
        return replace(self.bring_back(now), expires_at=expires_at, last_warned_day=None)

    def purchased(self, plan: PurchasePlan, edition: str, ends_at: datetime, now: datetime,
                  auto_renew: bool | None) -> AppState:
        """A base-package purchase (section 5): a renewal moves the expiry to the end of its last
        period; a new, upgrade or reactivation purchase also brings the app back (enabled)."""
        if plan.kind == "renewal":
            app = replace(self, expires_at=ends_at, last_warned_day=None)
        else:
            app = self.reenable(ends_at, now)
        return replace(app, edition=edition, had_paid=True,
                       auto_renew=self.auto_renew if auto_renew is None else auto_renew,
                       no_renew=False if auto_renew else self.no_renew)

    def with_auto_renew(self, enabled: bool, trial: str = SHIPPED_TRIAL) -> AppState:
        if enabled and self.edition == trial:
            raise _no_renewal(trial)
        return replace(self, auto_renew=enabled, no_renew=False if enabled else self.no_renew)

    # ---------------------------------------------------------- renewal modes (renewal management)
    @property
    def base_mode(self) -> Mode:
        return Mode.AUTO if self.auto_renew else (Mode.NONE if self.no_renew else Mode.MANUAL)

    @property
    def packages(self) -> tuple[Package, ...]:
        """The base package and every plugin/add-on line it has had (none once reclaimed)."""
        if self.status == Status.RECLAIMED:
            return ()
        base = Package(BASE, self.edition, None, 1, self.expires_at, self.base_mode)
        return (base, *(Package(e.product, e.product, e.tier, e.quantity, e.until, e.mode) for e in self.extras))

    def extra(self, product: str) -> Extra | None:
        return next((e for e in self.extras if e.product == product), None)

    def with_mode(self, sdkappid: int, product: str, mode: Mode, catalog: Catalog) -> AppState:
        """Set the renewal mode of the base package (`product` its edition) or of a plugin/add-on line
        the app has had; allowed at any time before the app is reclaimed."""
        self.ensure_writable(sdkappid)
        if product == self.edition:
            if mode == Mode.AUTO:
                if self.edition == catalog.trial_edition:
                    raise _no_renewal(self.edition)
                check_mode(catalog, product, None, mode)
            return replace(self, auto_renew=mode == Mode.AUTO, no_renew=mode == Mode.NONE)
        line = self.extra(product)
        if line is None:
            raise Conflict(f"app {sdkappid} has no {product} package")
        check_mode(catalog, product, line.tier, mode)
        return replace(self, extras=tuple(replace(e, mode=mode) if e.product == product else e
                                          for e in self.extras))

    def extra_bought(self, product: str, tier: str | None, quantity: int, until: datetime) -> AppState:
        return replace(self, extras=with_extra_bought(self.extras, product, tier, quantity, until))

    def extra_ended(self, product: str, at: datetime) -> AppState:
        return replace(self, extras=with_extra_ended(self.extras, product, at))

    def extend_trial(self, now: datetime, tz: ZoneInfo, trial: str = SHIPPED_TRIAL) -> AppState:
        """Trial extension: after expiry (before reclamation) it expires add_months(now, 1), enabled."""
        if self.edition != trial:
            raise Conflict(f"only a {trial.capitalize()} app can be extended")
        if now < self.expires_at:
            raise Conflict(f"a {trial.capitalize()} app can be extended only after it expires")
        return self.reenable(add_months(now, 1, tz), now)

    def reclaim(self, now: datetime) -> tuple[AppState, Reclaimed]:
        """stopped or disabled -> reclaimed, irreversibly: a tombstone whose data is still to delete."""
        if not self.reclaimable:
            raise Conflict(f"a {self.status} app cannot be reclaimed")
        return replace(self, status=Status.RECLAIMED, reclaimed_at=now, purge_pending=True,
                       auto_renew=False), Reclaimed(now)

    def purged(self) -> AppState:
        """The reclaimed app's data is deleted: it leaves the reclamation work list."""
        return replace(self, purge_pending=False)


def _no_renewal(trial: str) -> Conflict:
    return Conflict(f"the {trial.capitalize()} edition does not renew; ask for a trial extension")


def plan_purchase(app: AppState, edition: str, now: datetime, catalog: Catalog) -> PurchasePlan:
    """Decide the kind of a base-package purchase and where its first period starts (section 5)."""
    if edition not in catalog.purchasable_editions:
        raise InvalidRequest(f"edition must be one of {', '.join(catalog.purchasable_editions)}; "
                             f"{edition!r} cannot be bought")
    if app.status == Status.RECLAIMED:
        raise Gone("the app was reclaimed")
    if app.status in (Status.DISABLED, Status.STOPPED):
        return PurchasePlan(kind="reactivation", starts_at=now, upgrade=False)
    if app.edition == catalog.trial_edition:
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
