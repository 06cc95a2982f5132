"""Postpaid bills (billing-rules section 6), pure: the bill lines from usage counters and app facts, the
monthly settlement's window, and when an app's daily push bill has work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from chalicelib.domain.calendar import local_date, local_midnight, month_bounds
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.money import Cents, round_half_up, unit_price
from chalicelib.domain.usage import QuotaChange, block_charge, mau_overage, max_quota_during

QUOTA_HORIZON = timedelta(days=366)  # how far ahead a quota above the included is looked for


@dataclass(frozen=True)
class Line:
    sdkappid: int
    item: str
    quantity: int
    unit_price: str
    amount: Cents


def meter_key(product: str, meter: str) -> str:
    """How a meter's month count is named in MonthUsage.counters (and in the usage store)."""
    return f"{product}.{meter}"


@dataclass(frozen=True)
class MonthUsage:
    """An app's usage of a month: its MAU and the count of each monthly meter (by meter_key)."""

    sdkappid: int
    mau: int
    counters: Mapping[str, int] = field(default_factory=dict)


Span = tuple[datetime, datetime | None, str]  # out of service: (off_at, on_at or None, edition then)


@dataclass(frozen=True)
class AppFacts:
    """What the bill needs of an app: its edition now and its recent out-of-service spans."""

    edition: str
    off_spans: tuple[Span, ...] = ()


def _overlap(span: Span, start: datetime, end: datetime) -> int:
    """Seconds of [start, end) inside the span."""
    off, on, _ = span
    lo, hi = max(off, start), min(on or end, end)
    return max(0, int((hi - lo).total_seconds()))


def enabled_fraction(spans: tuple[Span, ...], start: datetime, end: datetime) -> Fraction:
    """Fraction (seconds) of M = [start, end) the app was enabled, when it stopped or was disabled
    during M (1 otherwise): M minus every out-of-service span's overlap with M."""
    if not any(start <= off < end for off, _, _ in spans):
        return Fraction(1)
    total = int((end - start).total_seconds())
    return Fraction(total - sum(_overlap(s, start, end) for s in spans), total)


def edition_for_month(app: AppFacts, start: datetime, end: datetime) -> str:
    """The edition at the end of M, or at the moment it stopped or was disabled during M when it
    was still out of service at the end of M."""
    for off, on, edition in sorted(app.off_spans, key=lambda span: span[0], reverse=True):
        if start <= off < end and (on is None or on >= end):
            return edition
    return app.edition


def monthly_lines(usage: MonthUsage, app: AppFacts, start: datetime, end: datetime, catalog: Catalog) -> list[Line]:
    lines: list[Line] = []
    name = edition_for_month(app, start, end)
    edition = catalog.edition(name)
    unit = edition.mau_unit
    if unit is not None and edition.mau_overage_unit_price is not None:
        qty, amount = mau_overage(usage.mau, edition.free_mau, unit, enabled_fraction(app.off_spans, start, end))
        if amount > 0:
            lines.append(Line(usage.sdkappid, "mau_overage", qty, edition.mau_overage_unit_price, amount))
    for product, meter_name, meter in catalog.meters("month"):
        count = usage.counters.get(meter_key(product, meter_name), 0)
        n, amount = block_charge(count, meter.included, meter.block, meter.block_price)
        if amount > 0:
            lines.append(Line(usage.sdkappid, meter.bill_item, n, meter.block_price, amount))
    return lines


def push_quota_line(sdkappid: int, max_quota: int, catalog: Catalog) -> Line | None:
    """Daily quota bill: (highest quota in force during D - included) x unit price, above the included."""
    found = catalog.quota_meter
    if found is None:
        return None
    meter = found[1]
    extra = max_quota - meter.included
    if extra <= 0:
        return None
    amount = round_half_up(unit_price(meter.block_price) * extra)
    return Line(sdkappid, meter.bill_item, extra, meter.block_price, amount)


# ------------------------------------------------------------------ the monthly settlement's window
def settlement_days(days: int) -> tuple[int, ...]:
    """The days of month M+1 on which month M is settled: 1..n (the catalog's settlement_days)."""
    return tuple(range(1, days + 1))


def in_settlement_window(at: datetime, tz: ZoneInfo, days: int) -> bool:
    """Whether a settlement run at `at` settles: its local day is one of the settlement days."""
    return local_date(at, tz).day <= days


def settlement_open(month: str, tz: ZoneInfo, days: int, now: datetime) -> bool:
    """Whether the settlement of local month `month` may still run at `now`: until the end of the
    window after it (local days 1..n of the next month), plus a day for the zone."""
    return month_bounds(month, tz)[1] + timedelta(days=days + 1) > now


# ------------------------------------------------------------------ daily push bills
def _none_above(log: Sequence[QuotaChange], until: datetime | None, start: datetime, end: datetime,
                included: int) -> bool:
    return max_quota_during(log, until, start, end) <= included


def push_day(sdkappid: int, log: Sequence[QuotaChange], until: datetime | None, day: date, tz: ZoneInfo,
             now: datetime, catalog: Catalog) -> tuple[Line | None, bool]:
    """One app's part of the daily push bill of local day `day`: its line (the highest quota in
    force during the day, above the included), and, without a line, whether the app leaves the
    push-billing index (no quota above the included from the day on, through QUOTA_HORIZON)."""
    start, end = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    line = push_quota_line(sdkappid, max_quota_during(log, until, start, end), catalog)
    if line is not None:
        return line, False
    return None, _none_above(log, until, start, now + QUOTA_HORIZON, catalog.included_push_calls)


def push_work_day(log: Sequence[QuotaChange], until: datetime | None, first: date, tz: ZoneInfo,
                  catalog: Catalog) -> date | None:
    """The first local day from `first` on whose push bill has work for the app: a quota above
    the included in force during it (a bill line), or none from it on (the app leaves the index).
    The quota only changes at its logged instants and at the end of the plugin's periods (`until`),
    so after the last of those every day is like the one before."""
    included = catalog.included_push_calls
    changes = [when for when, _ in log] + ([until] if until else [])
    last = local_date(max(changes), tz) + timedelta(days=1) if changes else first
    day = first
    while True:
        start = local_midnight(day, tz)
        if not _none_above(log, until, start, local_midnight(day + timedelta(days=1), tz), included):
            return day
        if _none_above(log, until, start, start + QUOTA_HORIZON, included):
            return day  # the run billing this day releases the app
        if day > last:
            return None
        day += timedelta(days=1)
