"""Arrears (section 7): entering it when a postpaid charge leaves cash + gift below zero, the stop
deadline of each such bill, the stop of the account's enabled apps, and the end of arrears."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from chalicelib.domain.app import AppState, Status, Stopped, StopReason
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.money import Cents


class AccountStatus(StrEnum):
    ACTIVE = "active"
    ARREARS = "arrears"


@dataclass(frozen=True)
class ArrearsWarning:
    """Sent (email + SMS) for every bill that leaves the account below zero."""

    kind: ClassVar[str] = "arrears"
    balance: Cents  # cash + gift after the bill
    stop_at: datetime  # when the account's enabled apps stop if it is still in arrears


@dataclass(frozen=True)
class Arrears:
    """An account's arrears: since when, and the stop deadlines (a bill's posting + 24 h) not yet
    enforced: `due_at` the next one, `later_dues` the ones after it, sorted."""

    status: AccountStatus = AccountStatus.ACTIVE
    since: datetime | None = None
    due_at: datetime | None = None
    later_dues: tuple[datetime, ...] = ()

    def enter(self, balance: Cents, now: datetime, catalog: Catalog) -> tuple[Arrears, ArrearsWarning | None]:
        """A postpaid charge left cash + gift at `balance`: below zero, arrears since now (or still),
        and a warning. Each such bill has its own 24 h; a stop already pending for an earlier bill
        keeps its earlier instant."""
        if balance >= 0:
            return self, None
        since = self.since if self.status == AccountStatus.ARREARS else now
        due = now + timedelta(hours=catalog.lifecycle("arrears_stop_after_hours"))
        if self.due_at is None:
            after = replace(self, status=AccountStatus.ARREARS, since=since, due_at=due)
            return after, ArrearsWarning(balance, due)
        # a stop is pending for an earlier bill: this bill's own 24 h come after it
        after = replace(self, status=AccountStatus.ARREARS, since=since,
                        later_dues=tuple(sorted((*self.later_dues, due))))
        return after, ArrearsWarning(balance, self.due_at)

    def enforce(self, now: datetime) -> tuple[Arrears, bool] | None:
        """The deadline run: None when no deadline has passed. Otherwise the arrears with the next
        deadline (the first later one still ahead, if any), and whether the account's enabled apps
        stop now (only while it is still in arrears)."""
        if self.due_at is None or self.due_at > now:
            return None
        later = [d for d in self.later_dues if d > now]
        after = replace(self, due_at=later[0] if later else None, later_dues=tuple(later[1:]))
        return after, self.status == AccountStatus.ARREARS

    def end(self, balance: Cents) -> Arrears | None:
        """A top-up that brings cash + gift to zero or above ends the arrears (None: nothing ends)."""
        if self.status != AccountStatus.ARREARS or balance < 0:
            return None
        return Arrears()


def stop_for_arrears(app: AppState, now: datetime) -> tuple[AppState, Stopped] | None:
    """Still in arrears at a deadline: an enabled app stops (reason arrears); others are left alone."""
    return app.stop(StopReason.ARREARS, now) if app.status == Status.ENABLED else None


def back_from_arrears(app: AppState, now: datetime) -> AppState | None:
    """At the end of arrears, an app stopped for arrears whose package is still valid is enabled again."""
    if app.status == Status.STOPPED and app.stop_reason == StopReason.ARREARS and app.expires_at > now:
        return app.bring_back(now)
    return None
