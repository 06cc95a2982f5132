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
