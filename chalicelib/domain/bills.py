"""Postpaid bill lines (billing-rules section 6): pure, from usage counters and app facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from chalicelib.domain.catalog import Catalog
from chalicelib.domain.money import Cents, round_half_up, unit_price
from chalicelib.domain.usage import block_charge, mau_overage


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
