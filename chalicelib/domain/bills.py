"""Postpaid bill lines (billing-rules section 6): pure, from usage counters and app facts."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class MonthUsage:
    sdkappid: int
    mau: int
    push_messages: int
    search_stored: int
    search_requests: int


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
    unit = edition.mau_overage_unit_price
    if unit is not None:
        raw = catalog.raw["editions"][name]["mau_overage_unit_price"]
        qty, amount = mau_overage(usage.mau, edition.free_mau, unit, enabled_fraction(app.off_spans, start, end))
        if amount > 0:
            lines.append(Line(usage.sdkappid, "mau_overage", qty, raw, amount))
    push = catalog.plugin("push")
    search = catalog.plugin("search")
    for item, count, included, block, price in (
        ("push_message_overage", usage.push_messages, push["included_messages_per_month"], push["message_block"],
         push["message_block_price"]),
        ("search_storage_overage", usage.search_stored, search["included_stored_per_month"], search["stored_block"],
         search["stored_block_price"]),
        ("search_request_overage", usage.search_requests, search["included_requests_per_month"],
         search["request_block"], search["request_block_price"]),
    ):
        n, amount = block_charge(count, int(included), int(block), str(price))
        if amount > 0:
            lines.append(Line(usage.sdkappid, item, n, str(price), amount))
    return lines


def push_quota_line(sdkappid: int, max_quota: int, catalog: Catalog) -> Line | None:
    """Daily push bill: (highest quota in force during D - 100) x 10.00, for a quota above 100."""
    push = catalog.plugin("push")
    extra = max_quota - int(push["included_daily_broadcast_calls"])
    if extra <= 0:
        return None
    price = str(push["extra_call_unit_price"])
    return Line(sdkappid, "push_api_quota", extra, price, round_half_up(unit_price(price) * extra))
