"""The document's date patterns call valid exactly the dates that exist (the server refuses the others:
a 2097-02-30 the document admitted was a disagreement), in the years each one admits."""

from __future__ import annotations

import re
from datetime import date, timedelta

from chalicelib.api import schemas as s
from chalicelib.api.openapi import QUERY_PARAMS

INSTANT = re.compile(s.INSTANT_PATTERN)
PERIOD = re.compile(QUERY_PARAMS["period"]["pattern"])
YEARS = (1970, 1971, 1972, 1980, 1996, 1999, 2000, 2023, 2024, 2026, 2028, 2100, 2400, 3200, 5600, 8996, 8999, 9000,
         9200, 9600, 9999)


def days(year: int) -> list[tuple[int, int, bool]]:
    """(month, day, exists) for every month and day 1-31 of the year."""
    out = []
    for month in range(1, 13):
        for day in range(1, 32):
            try:
                date(year, month, day)
                exists = True
            except ValueError:
                exists = False
            out.append((month, day, exists))
    return out


def test_instants_match_exactly_the_dates_that_exist_in_1971_to_8999():
    for year in YEARS:
        for month, day, exists in days(year):
            text = f"{year:04d}-{month:02d}-{day:02d}T00:00:00Z"
            assert bool(INSTANT.fullmatch(text)) == (exists and 1971 <= year <= 8999), text
            if INSTANT.fullmatch(text):
                assert s.instant(text) is not None


def test_period_days_match_exactly_the_dates_that_exist_from_1970():
    for year in YEARS:
        for month, day, exists in days(year):
            text = f"{year:04d}-{month:02d}-{day:02d}"
            assert bool(PERIOD.fullmatch(text)) == exists, text
        assert PERIOD.fullmatch(f"{year:04d}-02")
    d = date(2024, 1, 1)
    while d.year == 2024:  # every day of a leap year
        assert PERIOD.fullmatch(d.isoformat())
        d += timedelta(days=1)
