"""Money (cents, half-up rounding, amount parsing) and the billing calendar (billing-rules section 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.calendar import add_months, iso, month_bounds, month_key, parse_instant
from chalicelib.domain.money import InvalidAmount, fmt, parse_amount, round_half_up, unit_price

UTC_ZONE = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def t(text: str) -> datetime:
    return parse_instant(text)


# ------------------------------------------------------------------ round_half_up
@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (Fraction(1, 2), 1),
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 3),  # half-up, not banker's rounding
        (Fraction(49, 100), 0),
        (Fraction(51, 100), 1),
        (Fraction(-1, 2), -1),  # .5 away from zero for negatives
        (Fraction(-49, 100), 0),
        (Fraction(10 * 39900, 31), 12871),  # 128.709... -> 128.71 (worked example 1)
        (Fraction(35175, 10), 3518),  # 35.175 -> 35.18 (worked example 5)
        (Decimal("2.5"), 3),
        (Decimal("-2.5"), -3),
        (Decimal("2.4999"), 2),
        (7, 7),
    ],
)
def test_round_half_up_rounds_halves_away_from_zero(value, cents):
    assert round_half_up(value) == cents


@given(st.integers(-10**9, 10**9), st.integers(1, 10**6))
def test_round_half_up_matches_decimal_half_up(numerator, denominator):
    exact = Fraction(numerator, denominator)
    from decimal import ROUND_HALF_UP, localcontext

    with localcontext() as c:
        c.prec = 60
        expected = int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert round_half_up(exact) == expected
    assert abs(round_half_up(exact) - exact) <= Fraction(1, 2)


# ------------------------------------------------------------------ amounts
@pytest.mark.parametrize(
    ("text", "cents"),
    [("399.00", 39900), ("0.01", 1), ("12.5", 1250), ("7", 700), ("0", 0), (5, 500),
     ("999999999999.99", 99999999999999)],
)
def test_parse_amount_accepts_non_negative_decimals_with_two_places(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize(
    "bad",
    ["1.001", "-5.00", "-0.01", "1e3", "1.", ".5", " 1.00", "1.00 ", "1,00", "", "abc", "NaN", "Infinity",
     "+1.00", "1_000.00", "0x10", "1234567890123.00", 1.5, 2.0, -5, True, False, None, [], {}],
)
def test_parse_amount_rejects_anything_else(bad):
    with pytest.raises(InvalidAmount):
        parse_amount(bad)


@pytest.mark.parametrize(
    ("cents", "text"), [(39900, "399.00"), (-2518, "-25.18"), (5, "0.05"), (0, "0.00"), (-1, "-0.01")]
)
def test_fmt_prints_two_decimals(cents, text):
    assert fmt(cents) == text


@given(st.integers(0, 10**14 - 1))
def test_fmt_and_parse_amount_round_trip(cents):
    assert parse_amount(fmt(cents)) == cents


def test_unit_price_is_exact_below_a_cent():
    assert unit_price("0.015") == Fraction(3, 2)
    assert round_half_up(2345 * unit_price("0.015")) == 3518  # 35.175 -> 35.18


# ------------------------------------------------------------------ add_months
@pytest.mark.parametrize(
    ("months", "expected"),
    [(0, "2026-01-31T08:00:00Z"), (1, "2026-02-28T08:00:00Z"), (2, "2026-03-31T08:00:00Z"),
     (3, "2026-04-30T08:00:00Z"), (12, "2027-01-31T08:00:00Z"), (13, "2027-02-28T08:00:00Z")],
)
def test_add_months_clamps_to_month_end_from_the_anchor(months, expected):
    assert iso(add_months(t("2026-01-31T08:00:00Z"), months, UTC_ZONE)) == expected


def test_add_months_is_not_chained():
    anchor = t("2026-01-31T08:00:00Z")
    chained = add_months(add_months(anchor, 1, UTC_ZONE), 1, UTC_ZONE)
    assert iso(chained) == "2026-03-28T08:00:00Z"  # what chaining would (wrongly) give
    assert iso(add_months(anchor, 2, UTC_ZONE)) == "2026-03-31T08:00:00Z"


def test_add_months_leap_year():
    assert iso(add_months(t("2028-01-31T08:00:00Z"), 1, UTC_ZONE)) == "2028-02-29T08:00:00Z"
    assert iso(add_months(t("2028-02-29T00:00:00Z"), 12, UTC_ZONE)) == "2029-02-28T00:00:00Z"
    assert iso(add_months(t("2027-12-31T23:59:59Z"), 2, UTC_ZONE)) == "2028-02-29T23:59:59Z"


def test_add_months_crosses_year_end():
    assert iso(add_months(t("2026-11-30T00:00:00Z"), 3, UTC_ZONE)) == "2027-02-28T00:00:00Z"
    assert iso(add_months(t("2026-12-15T12:00:00Z"), 24, UTC_ZONE)) == "2028-12-15T12:00:00Z"


def test_add_months_takes_the_day_in_the_billing_zone():
    # 2026-01-31T20:00Z is Feb 1 04:00 in Shanghai (UTC+8): one month later is Mar 1 04:00 local
    assert iso(add_months(t("2026-01-31T20:00:00Z"), 1, SHANGHAI)) == "2026-02-28T20:00:00Z"
    # ... while in UTC it is Jan 31 20:00, clamped to Feb 28 20:00
    assert iso(add_months(t("2026-01-31T20:00:00Z"), 1, UTC_ZONE)) == "2026-02-28T20:00:00Z"
    # 2026-01-30T20:00Z is Jan 31 04:00 local: clamped to Feb 28 04:00 local = Feb 27 20:00Z
    assert iso(add_months(t("2026-01-30T20:00:00Z"), 1, SHANGHAI)) == "2026-02-27T20:00:00Z"
    assert iso(add_months(t("2026-01-30T20:00:00Z"), 1, UTC_ZONE)) == "2026-02-28T20:00:00Z"
    # Mar 31 04:00 local from the same anchor (not chained from Feb 28)
    assert iso(add_months(t("2026-01-30T20:00:00Z"), 2, SHANGHAI)) == "2026-03-30T20:00:00Z"
    # 2027-12-31T17:00Z is Jan 1 2028 01:00 local; +1 month: Feb 1 01:00 local
    assert iso(add_months(t("2027-12-31T17:00:00Z"), 1, SHANGHAI)) == "2028-01-31T17:00:00Z"


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)),
    st.integers(0, 24),
    st.sampled_from([UTC_ZONE, SHANGHAI]),
)
def test_add_months_keeps_time_of_day_and_never_passes_the_day(start, months, tz):
    start = start.replace(microsecond=0)
    end = add_months(start, months, tz)
    s, e = start.astimezone(tz), end.astimezone(tz)
    assert (e.hour, e.minute, e.second) == (s.hour, s.minute, s.second)
    assert (e.year * 12 + e.month) - (s.year * 12 + s.month) == months
    assert e.day == s.day or (e.day < s.day and (e + timedelta(days=1)).month != e.month)


# ------------------------------------------------------------------ instants and months
def test_parse_instant_needs_a_zone_and_normalises_to_utc():
    assert iso(parse_instant("2026-03-01T08:00:00+08:00")) == "2026-03-01T00:00:00Z"
    with pytest.raises(ValueError):
        parse_instant("2026-03-01T00:00:00")
    for out_of_range in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        with pytest.raises(ValueError):  # not an OverflowError (that would be a 500)
            parse_instant(out_of_range)


def test_month_key_and_bounds_are_local():
    assert month_key(t("2026-04-30T17:00:00Z"), SHANGHAI) == "2026-05"
    assert month_key(t("2026-04-30T17:00:00Z"), UTC_ZONE) == "2026-04"
    start, end = month_bounds("2026-05", SHANGHAI)
    assert (iso(start), iso(end)) == ("2026-04-30T16:00:00Z", "2026-05-31T16:00:00Z")
    start, end = month_bounds("2026-12", UTC_ZONE)
    assert (iso(start), iso(end)) == ("2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")


def test_add_months_keeps_the_second_of_two_repeated_local_hours():
    # 01:30 EST on 2025-11-02 (06:30Z) is the second 01:30 of that New York night: the first
    # period starts at the purchase instant itself, and a month later is 01:30 EST again
    ny = ZoneInfo("America/New_York")
    s = t("2025-11-02T06:30:00Z")
    assert add_months(s, 0, ny) == s
    assert iso(add_months(s, 1, ny)) == "2025-12-02T06:30:00Z"
    first = t("2025-11-02T05:30:00Z")  # the first 01:30 (EDT)
    assert add_months(first, 0, ny) == first
