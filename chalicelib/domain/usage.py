"""Pure usage rules: push quota in force, MAU and block overage amounts (billing-rules 2, 6)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction

from chalicelib.domain.money import Cents, round_half_up, unit_price

QuotaChange = tuple[datetime, int]  # (at, daily broadcast-call quota from then on)


def quota_in_force(log: Sequence[QuotaChange], until: datetime | None, at: datetime) -> int:
    """The daily broadcast-call quota at an instant: the last change at or before it, while the
    quota plugin (push) is paid for, i.e. before `until` (0 without the plugin)."""
    if until is None or at >= until:
        return 0
    current = 0
    for when, quota in sorted(log):
        if when <= at:
            current = quota
    return current


def max_quota_during(log: Sequence[QuotaChange], until: datetime | None, start: datetime,
                     end: datetime) -> int:
    """Highest quota in force at any time in [start, end): at the start, or set during it."""
    best = quota_in_force(log, until, start)
    for when, _ in log:
        if start <= when < end:
            best = max(best, quota_in_force(log, until, when))
    return best


def blocks(count: int, included: int, block: int) -> int:
    """Started blocks above the included amount: ceil(max(0, count - included) / block)."""
    over = max(0, count - included)
    return -(-over // block)


def block_charge(count: int, included: int, block: int, price: str) -> tuple[int, Cents]:
    """(blocks, amount in cents) of a per-started-block overage (push messages, search)."""
    n = blocks(count, included, block)
    return n, round_half_up(unit_price(price) * n)


def mau_overage(mau: int, free: int, unit: Fraction, enabled_fraction: Fraction = Fraction(1)) -> tuple[int, Cents]:
    """(billable MAU, amount): max(0, MAU - free) x unit price x the fraction of M it was enabled."""
    over = max(0, mau - free)
    return over, round_half_up(unit * over * enabled_fraction)
