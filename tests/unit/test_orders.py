"""Periods, the payment split, the spread, the refund formula and the upgrade credit (billing-rules
sections 3-5), with worked examples 1-4 of section 8 reproduced to the cent. Domain only: no AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.config import default_catalog as catalog
from chalicelib.domain import orders as rules
from chalicelib.domain.app import AppState, plan_purchase
from chalicelib.domain.calendar import iso, parse_instant
from chalicelib.domain.errors import Conflict, InvalidRequest
from chalicelib.domain.money import fmt

UTC_ZONE = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")
STANDARD = 39900
PRO = 69900


def t(text: str) -> datetime:
    return parse_instant(text)


def isos(bounds):
    return [(iso(s), iso(e)) for s, e in bounds]


def buy(start: str, months: int, price: int, voucher: int = 0, cash: int = 0, gift: int = 0, tz=UTC_ZONE):
    pay = rules.split_prepaid(price * months, voucher, cash, gift)
    return pay, rules.spread(pay.cash, pay.gift, rules.period_bounds(t(start), months, tz))


def money(r: rules.Refund) -> dict[str, str]:
    return {
        "current_amount": fmt(r.current_amount),
        "not_started_amount": fmt(r.not_started_amount),
        "used_value": fmt(r.used_value),
        "total": fmt(r.total),
        "cash": fmt(r.cash),
        "gift": fmt(r.gift),
    }


# ------------------------------------------------------------------ worked examples (section 8)
def test_worked_example_1_standard_refund_after_10_days():
    pay, periods = buy("2026-03-01T00:00:00Z", 1, STANDARD, cash=39900)
    assert (pay.voucher, pay.cash, pay.gift) == (0, 39900, 0)
    assert [(iso(p.starts_at), iso(p.ends_at)) for p in periods] == [("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")]
    at = t("2026-03-11T00:00:00Z")
    assert fmt(rules.used_value(STANDARD, periods[0], at)) == "128.71"
    assert money(rules.refund(periods, at, STANDARD)) == {
        "current_amount": "399.00",
        "not_started_amount": "0.00",
        "used_value": "128.71",
        "total": "270.29",
        "cash": "270.29",
        "gift": "0.00",
    }


def test_worked_example_2_pro_with_voucher_refunds_by_cash_gift_ratio():
    pay, periods = buy("2026-04-10T00:00:00Z", 1, PRO, voucher=10000, cash=40000, gift=30000)
    assert (fmt(pay.voucher), fmt(pay.cash), fmt(pay.gift)) == ("100.00", "400.00", "199.00")
    assert [(fmt(p.paid_cash), fmt(p.paid_gift)) for p in periods] == [("400.00", "199.00")]
    assert iso(periods[0].ends_at) == "2026-05-10T00:00:00Z"
    assert money(rules.refund(periods, t("2026-04-20T12:00:00Z"), PRO)) == {
        "current_amount": "599.00",
        "not_started_amount": "0.00",
        "used_value": "244.65",
        "total": "354.35",
        "cash": "236.63",
        "gift": "117.72",
    }


def test_worked_example_3_three_months_refund_counts_not_started_periods():
    pay, periods = buy("2026-01-15T00:00:00Z", 3, STANDARD, cash=119700)
    assert fmt(pay.cash) == "1197.00"
    assert [(iso(p.starts_at), iso(p.ends_at), fmt(p.paid_cash)) for p in periods] == [
        ("2026-01-15T00:00:00Z", "2026-02-15T00:00:00Z", "399.00"),
        ("2026-02-15T00:00:00Z", "2026-03-15T00:00:00Z", "399.00"),
        ("2026-03-15T00:00:00Z", "2026-04-15T00:00:00Z", "399.00"),
    ]
    at = t("2026-02-20T00:00:00Z")
    assert fmt(rules.used_value(STANDARD, periods[1], at)) == "71.25"
    assert money(rules.refund(periods, at, STANDARD)) == {
        "current_amount": "399.00",
        "not_started_amount": "399.00",
        "used_value": "71.25",
        "total": "726.75",
        "cash": "726.75",
        "gift": "0.00",
    }
    kept = rules.end_periods_at(periods, at)
    assert [(iso(p.starts_at), iso(p.ends_at)) for p in kept] == [
        ("2026-01-15T00:00:00Z", "2026-02-15T00:00:00Z"),
        ("2026-02-15T00:00:00Z", "2026-02-20T00:00:00Z"),
    ]


def test_worked_example_4_upgrade_credit_then_pro_period():
    cash = 89900  # 899.00 cash: 500.00 left after Standard, not enough for Pro without the credit
    pay, standard = buy("2026-06-01T00:00:00Z", 1, STANDARD, cash=cash)
    cash -= pay.cash
    assert fmt(cash) == "500.00"
    now = t("2026-06-16T00:00:00Z")
    credit = rules.refund(standard, now, STANDARD)
    assert money(credit) == {
        "current_amount": "399.00",
        "not_started_amount": "0.00",
        "used_value": "199.50",
        "total": "199.50",
        "cash": "199.50",
        "gift": "0.00",
    }
    with pytest.raises(rules.InsufficientBalance):
        rules.split_prepaid(PRO, 0, cash, 0)  # without the credit Pro is not covered
    pro_pay = rules.split_prepaid(PRO, 0, cash + credit.cash, 0 + credit.gift)
    assert (fmt(pro_pay.cash), fmt(pro_pay.gift)) == ("699.00", "0.00")
    assert fmt(cash + credit.cash - pro_pay.cash) == "0.50"
    assert isos(rules.period_bounds(now, 1, UTC_ZONE)) == [("2026-06-16T00:00:00Z", "2026-07-16T00:00:00Z")]


# ------------------------------------------------------------------ periods
def test_period_bounds_are_computed_from_the_anchor():
    assert isos(rules.period_bounds(t("2026-01-31T08:00:00Z"), 3, UTC_ZONE)) == [
        ("2026-01-31T08:00:00Z", "2026-02-28T08:00:00Z"),
        ("2026-02-28T08:00:00Z", "2026-03-31T08:00:00Z"),
        ("2026-03-31T08:00:00Z", "2026-04-30T08:00:00Z"),
    ]


def test_period_bounds_leap_year():
    assert isos(rules.period_bounds(t("2028-01-31T08:00:00Z"), 2, UTC_ZONE)) == [
        ("2028-01-31T08:00:00Z", "2028-02-29T08:00:00Z"),
        ("2028-02-29T08:00:00Z", "2028-03-31T08:00:00Z"),
    ]


def test_period_bounds_in_shanghai():
    # bought 2026-01-31T20:00Z = Feb 1 04:00 local: periods end on local day 1 at 04:00
    assert isos(rules.period_bounds(t("2026-01-31T20:00:00Z"), 2, SHANGHAI)) == [
        ("2026-01-31T20:00:00Z", "2026-02-28T20:00:00Z"),
        ("2026-02-28T20:00:00Z", "2026-03-31T20:00:00Z"),
    ]
    # bought 2026-01-30T20:00Z = Jan 31 04:00 local: clamped to Feb 28 04:00 local, back to Mar 31
    assert isos(rules.period_bounds(t("2026-01-30T20:00:00Z"), 3, SHANGHAI)) == [
        ("2026-01-30T20:00:00Z", "2026-02-27T20:00:00Z"),
        ("2026-02-27T20:00:00Z", "2026-03-30T20:00:00Z"),
        ("2026-03-30T20:00:00Z", "2026-04-29T20:00:00Z"),
    ]


def test_used_value_in_shanghai_uses_the_local_period_length():
    # Feb 28 20:00Z -> Mar 31 20:00Z local period is 31 days; 10 days used of 399.00
    _, periods = buy("2026-02-28T20:00:00Z", 1, STANDARD, cash=39900, tz=SHANGHAI)
    assert (iso(periods[0].starts_at), iso(periods[0].ends_at)) == ("2026-02-28T20:00:00Z", "2026-03-31T20:00:00Z")
    assert fmt(rules.used_value(STANDARD, periods[0], t("2026-03-10T20:00:00Z"))) == "128.71"


def test_used_value_is_counted_to_the_second_and_clamped():
    _, (p,) = buy("2026-03-01T00:00:00Z", 1, STANDARD, cash=39900)
    assert rules.used_value(STANDARD, p, p.starts_at) == 0
    assert rules.used_value(STANDARD, p, p.starts_at - timedelta(days=1)) == 0
    assert rules.used_value(STANDARD, p, p.ends_at) == STANDARD
    assert rules.used_value(STANDARD, p, p.ends_at + timedelta(days=3)) == STANDARD
    # one second of a 31-day period: 399.00 / 2678400 s -> 0.000149 cents -> 0.00
    assert rules.used_value(STANDARD, p, p.starts_at + timedelta(seconds=1)) == 0
    # half of the period exactly: 199.50
    assert fmt(rules.used_value(STANDARD, p, p.starts_at + (p.ends_at - p.starts_at) / 2)) == "199.50"


# ------------------------------------------------------------------ paying
def test_split_prepaid_voucher_first_then_cash_then_gift():
    assert rules.split_prepaid(PRO, 10000, 40000, 30000) == rules.Payment(PRO, 10000, 40000, 19900)
    assert rules.split_prepaid(STANDARD, 0, 100000, 100000) == rules.Payment(STANDARD, 0, STANDARD, 0)
    assert rules.split_prepaid(STANDARD, 0, 0, 39900) == rules.Payment(STANDARD, 0, 0, STANDARD)


def test_split_prepaid_voucher_excess_is_lost():
    assert rules.split_prepaid(STANDARD, 50000, 100, 0) == rules.Payment(STANDARD, STANDARD, 0, 0)


def test_split_prepaid_refuses_unless_cash_plus_gift_covers_the_rest():
    with pytest.raises(rules.InsufficientBalance):
        rules.split_prepaid(STANDARD, 0, 20000, 19899)
    assert rules.split_prepaid(STANDARD, 0, 20000, 19900) == rules.Payment(STANDARD, 0, 20000, 19900)
    with pytest.raises(rules.InsufficientBalance):
        rules.split_prepaid(STANDARD, 10000, 0, 29899)
    with pytest.raises(rules.InsufficientBalance):  # negative cash (arrears) counts against gift
        rules.split_prepaid(STANDARD, 0, -100, 39900)


def test_spread_puts_leftover_cents_on_the_first_period():
    # 1197.00 with a 197.00 voucher leaves 1000.00 to spread over 3 periods
    pay, periods = buy("2026-01-15T00:00:00Z", 3, STANDARD, voucher=19700, cash=100000)
    assert fmt(pay.paid) == "1000.00"
    assert [(fmt(p.paid_cash), fmt(p.paid_gift)) for p in periods] == [
        ("333.34", "0.00"),
        ("333.33", "0.00"),
        ("333.33", "0.00"),
    ]


def test_spread_keeps_the_cash_gift_ratio_per_period():
    # 1197.00 paid 400.00 cash + 797.00 gift over 3 periods
    pay, periods = buy("2026-01-15T00:00:00Z", 3, STANDARD, cash=40000, gift=100000)
    assert (fmt(pay.cash), fmt(pay.gift)) == ("400.00", "797.00")
    assert [(fmt(p.paid_cash), fmt(p.paid_gift)) for p in periods] == [
        ("133.34", "265.66"),
        ("133.33", "265.67"),
        ("133.33", "265.67"),
    ]
    # leftover and ratio together: 1000.00 = 600.00 cash + 400.00 gift
    parts = rules.spread(60000, 40000, rules.period_bounds(t("2026-01-15T00:00:00Z"), 3, UTC_ZONE))
    assert [(fmt(p.paid_cash), fmt(p.paid_gift)) for p in parts] == [
        ("200.00", "133.34"),
        ("200.00", "133.33"),
        ("200.00", "133.33"),
    ]


def test_spread_of_a_fully_vouchered_order_is_zero():
    pay, periods = buy("2026-01-15T00:00:00Z", 2, STANDARD, voucher=80000)
    assert pay.paid == 0 and all(p.paid_cash == 0 and p.paid_gift == 0 for p in periods)


def test_spread_never_gives_a_period_negative_cash_or_gift():
    # 0.24 (0.12 cash + 0.12 gift) over 24 periods: 0.01 each; rounding every later period's cash
    # half-up to 0.01 once left the first period with -0.11 cash
    bounds = rules.period_bounds(t("2026-01-15T00:00:00Z"), 24, UTC_ZONE)
    periods = rules.spread(12, 12, bounds)
    assert all(p.paid_cash >= 0 and p.paid_gift >= 0 for p in periods)
    assert sum(p.paid_cash for p in periods) == 12 and sum(p.paid_gift for p in periods) == 12
    periods = rules.spread(2, 2, bounds[:4])
    assert [(p.paid_cash, p.paid_gift) for p in periods] == [(0, 1), (0, 1), (1, 0), (1, 0)]


# ------------------------------------------------------------------ the refund formula
def test_refund_before_the_start_returns_everything_paid():
    pay, periods = buy("2026-05-01T00:00:00Z", 2, STANDARD, cash=50000, gift=50000)
    r = rules.refund(periods, t("2026-04-20T00:00:00Z"), STANDARD)
    assert money(r) == {
        "current_amount": "0.00",
        "not_started_amount": "798.00",
        "used_value": "0.00",
        "total": "798.00",
        "cash": "500.00",
        "gift": "298.00",
    }


def test_refund_is_never_negative_when_a_voucher_paid_most():
    # 399.00 with a 350.00 voucher: 49.00 paid; at 20 days of 31 the used value is 257.42
    _, periods = buy("2026-03-01T00:00:00Z", 1, STANDARD, voucher=35000, cash=10000)
    r = rules.refund(periods, t("2026-03-21T00:00:00Z"), STANDARD)
    assert money(r) == {
        "current_amount": "49.00",
        "not_started_amount": "0.00",
        "used_value": "257.42",
        "total": "0.00",
        "cash": "0.00",
        "gift": "0.00",
    }


def test_refund_after_the_end_is_zero():
    _, periods = buy("2026-03-01T00:00:00Z", 1, STANDARD, cash=39900)
    assert rules.refund(periods, t("2026-04-01T00:00:00Z"), STANDARD).total == 0


# ------------------------------------------------------------------ purchase plan (section 5)
def app_state(edition="standard", status="enabled", expires="2026-04-01T00:00:00Z"):
    return AppState(edition=edition, status=status, expires_at=t(expires))


def test_plan_renewal_appends_after_the_current_expiry():
    plan = plan_purchase(app_state(), "standard", t("2026-03-20T00:00:00Z"), catalog())
    assert (plan.kind, iso(plan.starts_at)) == ("renewal", "2026-04-01T00:00:00Z")


def test_plan_renewal_within_grace_continues_from_old_expiry():
    plan = plan_purchase(app_state(), "standard", t("2026-04-02T00:00:00Z"), catalog())
    assert (plan.kind, iso(plan.starts_at)) == ("renewal", "2026-04-01T00:00:00Z")


def test_plan_purchase_on_a_stopped_app_starts_now():
    now = t("2026-04-02T00:00:01Z")
    plan = plan_purchase(app_state(status="stopped"), "standard", now, catalog())
    assert (plan.kind, plan.starts_at) == ("reactivation", now)


def test_plan_new_upgrade_and_refusals():
    now = t("2026-03-20T00:00:00Z")
    assert plan_purchase(app_state("developer"), "pro", now, catalog()).kind == "new"
    upgrade = plan_purchase(app_state("standard"), "pro", now, catalog())
    assert (upgrade.kind, upgrade.starts_at, upgrade.upgrade) == ("upgrade", now, True)
    with pytest.raises(Conflict) as err:
        plan_purchase(app_state("pro"), "standard", now, catalog())
    assert err.value.code == "downgrade_not_allowed"
    with pytest.raises(InvalidRequest):
        plan_purchase(app_state("developer"), "developer", now, catalog())


# ------------------------------------------------------------------ properties
START = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=0)
)
ZONES = st.sampled_from([UTC_ZONE, SHANGHAI])
CENTS = st.integers(0, 10**8)


@given(CENTS, CENTS, CENTS, CENTS)
def test_split_prepaid_pays_exactly_the_price(price, voucher, cash, gift):
    try:
        pay = rules.split_prepaid(price, voucher, cash, gift)
    except rules.InsufficientBalance:
        assert cash + gift < price - min(voucher, price)
        return
    assert pay.voucher + pay.cash + pay.gift == price
    assert 0 <= pay.voucher <= voucher and 0 <= pay.cash <= cash and 0 <= pay.gift <= gift
    assert pay.voucher == min(voucher, price)
    assert pay.gift == 0 or pay.cash == cash  # gift only once cash is used up


@given(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(1, 24), START, ZONES)
def test_spread_parts_sum_to_the_totals(paid_cash, paid_gift, months, start, tz):
    periods = rules.spread(paid_cash, paid_gift, rules.period_bounds(start, months, tz))
    assert len(periods) == months
    assert sum(p.paid_cash for p in periods) == paid_cash
    assert sum(p.paid_gift for p in periods) == paid_gift
    each, leftover = divmod(paid_cash + paid_gift, months)
    assert [p.paid for p in periods] == [each + leftover] + [each] * (months - 1)
    total = paid_cash + paid_gift
    for i, p in enumerate(periods):
        assert 0 <= p.paid_cash <= p.paid and 0 <= p.paid_gift <= p.paid
        # later periods within a cent of the order's ratio; the first absorbs their rounding
        slack = 1 if i else max(1, months / 2)
        assert abs(p.paid_cash * total - p.paid * paid_cash) <= slack * total
    assert periods[0].starts_at == start
    assert all(a.ends_at == b.starts_at for a, b in zip(periods, periods[1:], strict=False))
    assert all(timedelta(days=28) <= p.ends_at - p.starts_at <= timedelta(days=31) for p in periods)


@given(
    st.sampled_from([STANDARD, PRO, 29900, 1]),
    st.integers(1, 24),
    st.integers(0, 2 * PRO),
    st.integers(0, 24 * PRO),
    st.integers(0, 24 * PRO),
    START,
    st.integers(-40 * 86400, 26 * 31 * 86400),
    ZONES,
)
def test_refund_stays_within_what_was_paid(monthly, months, voucher, cash, gift, start, offset, tz):
    gift = max(gift, monthly * months - voucher - cash)  # a balance that covers the order
    pay = rules.split_prepaid(monthly * months, voucher, cash, gift)
    periods = rules.spread(pay.cash, pay.gift, rules.period_bounds(start, months, tz))
    r = rules.refund(periods, start + timedelta(seconds=offset), monthly)
    assert r.total >= 0 and r.cash >= 0 and r.gift >= 0
    assert r.total <= pay.cash + pay.gift
    assert r.total <= r.current_amount + r.not_started_amount
    assert r.cash + r.gift == r.total
    assert r.cash <= pay.cash and r.gift <= pay.gift
    assert 0 <= r.used_value <= monthly


@given(st.integers(1, 24), st.integers(0, 24 * PRO), st.integers(0, 24 * PRO), START, st.integers(0, 25 * 31 * 86400))
def test_refund_then_refund_again_gives_nothing_more(months, cash, gift, start, offset):
    """After the refunded periods end at N, nothing is left to refund at N or later."""
    gift = max(gift, STANDARD * months - cash)
    pay = rules.split_prepaid(STANDARD * months, 0, cash, gift)
    periods = rules.spread(pay.cash, pay.gift, rules.period_bounds(start, months, UTC_ZONE))
    at = start + timedelta(seconds=offset)
    kept = rules.end_periods_at(periods, at)
    assert rules.refund(kept, at, STANDARD).total == 0
    assert all(p.ends_at <= at for p in kept)
