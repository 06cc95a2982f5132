"""The billing calendar: instants are UTC, calendar notions are taken in the billing zone."""

from __future__ import annotations

import calendar as _cal
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


def parse_instant(text: str) -> datetime:
    """ISO-8601 with an offset (or Z) to an aware UTC datetime; naive input is rejected."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"instant {text!r} needs a time zone (e.g. Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError(f"instant {text!r} is out of range") from None


def iso(value: datetime) -> str:
    """UTC instant as 2026-03-01T00:00:00Z (microseconds kept only when present)."""
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime(_ISO_Z)


def add_months(start: datetime, months: int, tz: ZoneInfo) -> datetime:
    """Same local day-of-month and time of day `months` later, clamped to a shorter month's end.

    `add_months(S, 0)` is S itself, also in the repeated hour of a DST fall-back (the fold is kept)."""
    if months == 0:
        return start.astimezone(UTC)
    local = start.astimezone(tz)
    index = local.year * 12 + (local.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(local.day, _cal.monthrange(year, month)[1])
    naive = datetime(year, month, day, local.hour, local.minute, local.second, local.microsecond, fold=local.fold)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which local `day` starts."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def month_key(instant: datetime, tz: ZoneInfo) -> str:
    """Local natural month of an instant: "2026-05"."""
    return instant.astimezone(tz).strftime("%Y-%m")


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local natural month "YYYY-MM" as UTC instants."""
    year, mon = (int(x) for x in month.split("-"))
    start = local_midnight(date(year, mon, 1), tz)
    nxt = date(year + (mon == 12), 1 if mon == 12 else mon + 1, 1)
    return start, local_midnight(nxt, tz)


def previous_month(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


def plugin_period_end(start: datetime, tz: ZoneInfo, months: int = 1) -> datetime:
    """End of the `months`-th plugin/add-on period bought at `start`: local midnight starting day T
    (start's local day) `months` months later, from the anchor, clamped to a shorter month's end
    like add_months (a Jan 31 purchase's first period ends Feb 28 00:00 local)."""
    return add_months(local_midnight(local_date(start, tz), tz), months, tz)


def day_range(first: date, last: date) -> list[date]:
    days = []
    d = first
    while d <= last:
        days.append(d)
        d += timedelta(days=1)
    return days


def is_period(text: str, *, day: bool = True) -> bool:
    """A local month "2026-05" (or, with `day`, a local day "2026-05-10") from 1970 on."""
    try:
        parsed = date.fromisoformat(text if len(text) == 10 and day else f"{text}-01")
    except ValueError:
        return False
    return parsed.year >= 1970 and len(text) in ((7, 10) if day else (7,)) and text[4] == "-"
