"""Exact money: integer cents everywhere, Decimal only for fractions before rounding.

A monetary result becomes cents with :func:`round_half_up` at the moment it becomes a line,
charge, credit or refund (billing-rules section 1). Amounts cross the API as strings with two
decimals ("399.00").
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

Cents = int

_AMOUNT = re.compile(r"[0-9]{1,12}(?:[.][0-9]{1,2})?")  # ASCII digits only


class InvalidAmount(ValueError):
    """An amount that is not a non-negative decimal with at most two places."""


def round_half_up(value: Fraction | Decimal | int) -> Cents:
    """Round an amount already expressed in cents (possibly fractional) half-up to whole cents."""
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    # Fraction: exact half-up for non-negative and negative values (away from zero on .5)
    sign = -1 if value < 0 else 1
    mag = abs(value)
    whole, rest = divmod(mag.numerator, mag.denominator)
    if 2 * rest >= mag.denominator:
        whole += 1
    return sign * whole


def parse_amount(text: str | int) -> Cents:
    """Parse "399.00", "12.5" or an integer into cents; reject negatives and >2 decimals."""
    if isinstance(text, bool):
        raise InvalidAmount("amount must be a decimal string")
    if isinstance(text, int):
        if text < 0:
            raise InvalidAmount("amount must not be negative")
        return text * 100
    if not isinstance(text, str) or not _AMOUNT.fullmatch(text):
        raise InvalidAmount(f"amount {text!r} must be a non-negative decimal with at most two places")
    return int(Decimal(text) * 100)


def fmt(cents: Cents) -> str:
    """Cents as a decimal string with two places: 39900 -> "399.00", -2518 -> "-25.18"."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def unit_price(text: str) -> Fraction:
    """A catalog unit price in cents, exact even below a cent ("0.015" -> 3/2 cents)."""
    return Fraction(Decimal(text)) * 100
