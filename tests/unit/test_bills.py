"""Monthly MAU proration over out-of-service spans (billing-rules section 6), pure."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

from chalicelib.config import default_catalog as load_catalog
from chalicelib.domain.bills import AppFacts, MonthUsage, edition_for_month, enabled_fraction, monthly_lines
from chalicelib.domain.money import fmt

SEP = (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))  # 2,592,000 s


def at(day: int, hour: int = 0, minute: int = 0, month: int = 9) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_an_app_never_out_of_service_in_the_month_pays_the_whole_month():
    assert enabled_fraction((), *SEP) == 1
    # stopped in August and enabled again on Sep 10: it did not stop *during* September
    assert enabled_fraction(((at(20, month=8), at(10), "standard"),), *SEP) == 1


def test_worked_example_9_stopped_at_midnight_on_the_16th():
    assert enabled_fraction(((at(16), None, "standard"),), *SEP) == Fraction(15, 30)


def test_every_span_of_the_month_is_taken_off():
    spans = ((at(2, 2, 15), at(5), "standard"), (at(20), at(25), "standard"), (at(28), None, "standard"))
    off = (2 * 86400 + 21 * 3600 + 45 * 60) + 5 * 86400 + 3 * 86400
    assert enabled_fraction(spans, *SEP) == Fraction(2_592_000 - off, 2_592_000)


def test_a_span_from_the_month_before_counts_only_its_part_in_the_month():
    spans = ((at(30, month=8), at(3), "standard"), (at(20), None, "standard"))
    assert enabled_fraction(spans, *SEP) == Fraction(30 - 2 - 11, 30)


def test_the_edition_is_the_one_at_the_stop_when_still_out_of_service_at_month_end():
    app = AppFacts("pro", ((at(16), None, "standard"),))
    assert edition_for_month(app, *SEP) == "standard"
    back = AppFacts("pro", ((at(16), at(20), "standard"),))
    assert edition_for_month(back, *SEP) == "pro"


def test_monthly_lines_prorate_mau_over_spans_to_the_cent():
    catalog = load_catalog()
    app = AppFacts("standard", ((at(2, 2, 15), at(5), "standard"),))
    lines = monthly_lines(MonthUsage(1, 14_000), app, *SEP, catalog)
    assert [(x.item, x.quantity, fmt(x.amount)) for x in lines] == [("mau_overage", 4000, "54.19")]


# ------------------------------------------------------------------ the settlement window (catalog's settlement_days)
def test_the_settlement_window_is_local_days_1_to_n_of_the_next_month():
    from zoneinfo import ZoneInfo

    from chalicelib.domain.bills import in_settlement_window, settlement_days, settlement_open

    shanghai = ZoneInfo("Asia/Shanghai")
    assert settlement_days(3) == (1, 2, 3) and settlement_days(1) == (1,)
    assert in_settlement_window(datetime(2026, 4, 3, 23, 59, tzinfo=UTC), ZoneInfo("UTC"), 3)
    assert not in_settlement_window(datetime(2026, 4, 4, tzinfo=UTC), ZoneInfo("UTC"), 3)
    assert in_settlement_window(datetime(2026, 3, 31, 16, tzinfo=UTC), shanghai, 1)  # April 1st 00:00 local
    assert not in_settlement_window(datetime(2026, 3, 31, 15, 59, tzinfo=UTC), shanghai, 1)
    # a month's records are kept for its settlement until the window's end plus a day (the zone)
    assert settlement_open("2026-03", ZoneInfo("UTC"), 3, datetime(2026, 4, 4, 23, 59, 59, tzinfo=UTC))
    assert not settlement_open("2026-03", ZoneInfo("UTC"), 3, datetime(2026, 4, 5, tzinfo=UTC))
    assert not settlement_open("2026-03", ZoneInfo("UTC"), 1, datetime(2026, 4, 3, tzinfo=UTC))


# ------------------------------------------------------------------ daily push bills
def test_an_apps_daily_push_bill_line_and_its_release_from_the_index():
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from chalicelib.domain.bills import QUOTA_HORIZON, push_day

    utc, c = ZoneInfo("UTC"), load_catalog()
    log = [(datetime(2026, 5, 10, 12, tzinfo=UTC), 130), (datetime(2026, 5, 12, tzinfo=UTC), 100)]
    until = datetime(2026, 6, 1, tzinfo=UTC)
    now = datetime(2026, 5, 14, tzinfo=UTC)
    line, release = push_day(7, log, until, date(2026, 5, 11), utc, now, c)
    assert line is not None and (line.item, line.quantity, fmt(line.amount), release) == (
        "push_api_quota", 30, "300.00", False)  # 130 - 100 included, x 10.00
    assert push_day(7, log, until, date(2026, 5, 12), utc, now, c) == (None, True)  # 100 from then on
    later = [*log, (now + QUOTA_HORIZON - timedelta(seconds=1), 101)]  # above again within the horizon
    far = datetime(2028, 1, 1, tzinfo=UTC)  # the plugin paid long enough
    assert push_day(7, later, far, date(2026, 5, 12), utc, now, c) == (None, False)
    assert QUOTA_HORIZON == timedelta(days=366)


def test_the_first_day_a_push_bill_has_work_for_an_app():
    from datetime import date
    from zoneinfo import ZoneInfo

    from chalicelib.domain.bills import push_work_day

    utc, c = ZoneInfo("UTC"), load_catalog()
    until = datetime(2026, 6, 1, tzinfo=UTC)
    above = [(datetime(2026, 5, 20, 8, tzinfo=UTC), 150)]
    assert push_work_day(above, until, date(2026, 5, 10), utc, c) == date(2026, 5, 20)  # its first line
    at_included = [(datetime(2026, 5, 20, 8, tzinfo=UTC), 100)]
    assert push_work_day(at_included, until, date(2026, 5, 10), utc, c) == date(2026, 5, 10)  # released that day
    assert push_work_day(above, until, date(2026, 6, 2), utc, c) == date(2026, 6, 2)  # the plugin ended: released
