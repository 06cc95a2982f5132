"""Periods, the payment split, the refund formula and the upgrade credit (billing-rules 3-5).

Pure functions over plain data: they take `now` and amounts in cents and return decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from chalicelib.domain.calendar import add_months, plugin_period_end
from chalicelib.domain.money import Cents, fmt, round_half_up


class InsufficientBalance(Exception):
    """cash + gift do not cover what the voucher leaves to pay."""


@dataclass(frozen=True)
class Period:
    starts_at: datetime
    ends_at: datetime
    paid_cash: Cents
    paid_gift: Cents

    @property
    def paid(self) -> Cents:
        return self.paid_cash + self.paid_gift


@dataclass(frozen=True)
class Payment:
    """How a prepaid charge of `price` is paid: voucher first, then cash, then gift."""

    price: Cents
    voucher: Cents
    cash: Cents
    gift: Cents

    @property
    def paid(self) -> Cents:
        return self.cash + self.gift


@dataclass(frozen=True)
class Refund:
    current_amount: Cents
    not_started_amount: Cents
    used_value: Cents
    total: Cents
    cash: Cents
    gift: Cents


def period_bounds(start: datetime, months: int, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """n monthly periods [add_months(S, i), add_months(S, i+1)), always from the anchor S."""
    edges = [add_months(start, i, tz) for i in range(months + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def plugin_period_bounds(start: datetime, months: int, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """n plugin/add-on periods (billing-rules 3): period 0 starts at the purchase instant S; period i
    ends at local midnight starting day T (S's local day) i+1 months later, from the anchor; period
    i > 0 starts where i-1 ended. A renewal passes the current end as S and follows the same rule."""
    edges = [start] + [plugin_period_end(start, tz, i + 1) for i in range(months)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def split_prepaid(price: Cents, voucher: Cents, cash: Cents, gift: Cents) -> Payment:
    """Voucher first (whole; excess lost), then cash, then gift; refuse unless covered."""
    applied = min(voucher, price)
    due = price - applied
    if cash + gift < due:
        raise InsufficientBalance(f"balance {fmt(cash + gift)} does not cover {fmt(due)}")
    from_cash = min(max(cash, 0), due)
    from_gift = due - from_cash
    if from_gift > gift:
        raise InsufficientBalance(f"gift {fmt(gift)} does not cover {fmt(from_gift)}")
    return Payment(price=price, voucher=applied, cash=from_cash, gift=from_gift)


def split_postpaid(amount: Cents, cash: Cents, gift: Cents) -> tuple[Cents, Cents]:
    """A postpaid charge takes cash, then gift; the shortfall becomes negative cash.

    Returns the (cash, gift) amounts taken (both >= 0)."""
    from_cash = min(max(cash, 0), amount)
    from_gift = min(max(gift, 0), amount - from_cash)
    from_cash += amount - from_cash - from_gift  # shortfall -> negative cash
    return from_cash, from_gift


def spread(paid_cash: Cents, paid_gift: Cents, bounds: Sequence[tuple[datetime, datetime]]) -> list[Period]:
    """Equal cent amounts per period, leftover cents on the first; each period keeps the order's
    cash:gift ratio (rounded half-up, the first period absorbing the rounding)."""
    n = len(bounds)
    total = paid_cash + paid_gift
    each, leftover = divmod(total, n)
    amounts = [each + (leftover if i == 0 else 0) for i in range(n)]
    cash_parts = [0] * n
    for i in range(1, n):
        cash_parts[i] = round_half_up(Fraction(amounts[i] * paid_cash, total)) if total else 0
    cash_parts[0] = paid_cash - sum(cash_parts[1:])
    # The first period absorbs the rounding only as far as its amount allows (its cash may not go
    # below 0 or above its amount); what it cannot absorb moves one cent to each following period.
    excess = cash_parts[0] - min(max(cash_parts[0], 0), amounts[0])
    step = 1 if excess > 0 else -1
    for i in range(1, n):
        if not excess:
            break
        cash_parts[i] += step
        cash_parts[0] -= step
        excess -= step
    return [
        Period(starts_at=s, ends_at=e, paid_cash=c, paid_gift=a - c)
        for (s, e), a, c in zip(bounds, amounts, cash_parts, strict=True)
    ]


def used_value(monthly_price: Cents, period: Period, at: datetime) -> Cents:
    """round_half_up(list price x elapsed / length), to the second."""
    length = int((period.ends_at - period.starts_at).total_seconds())
    elapsed = int((at - period.starts_at).total_seconds())
    elapsed = max(0, min(elapsed, length))
    return round_half_up(Fraction(monthly_price * elapsed, length))


def refund(periods: Iterable[Period], at: datetime, monthly_price: Callable[[Period], Cents] | Cents) -> Refund:
    """The refund formula of billing-rules section 5 over every period still running at `at`.

    `monthly_price` is the list price of one month (or a function giving it per period)."""
    price_of = monthly_price if callable(monthly_price) else (lambda _p: monthly_price)
    current = [p for p in periods if p.starts_at <= at < p.ends_at]
    not_started = [p for p in periods if p.starts_at > at]
    current_amount = sum(p.paid for p in current)
    not_started_amount = sum(p.paid for p in not_started)
    used = sum(used_value(price_of(p), p, at) for p in current)
    total = max(0, current_amount + not_started_amount - used)
    refunded = current + not_started
    sum_cash = sum(p.paid_cash for p in refunded)
    sum_paid = sum(p.paid for p in refunded)
    cash = round_half_up(Fraction(total * sum_cash, sum_paid)) if sum_paid else 0
    return Refund(
        current_amount=current_amount,
        not_started_amount=not_started_amount,
        used_value=used,
        total=total,
        cash=cash,
        gift=total - cash,
    )


def end_periods_at(periods: Iterable[Period], at: datetime) -> list[Period]:
    """The refunded periods end at `at`: the running one is cut, not-started ones are dropped."""
    kept: list[Period] = []
    for p in periods:
        if p.starts_at > at:
            continue
        kept.append(replace(p, ends_at=at) if p.ends_at > at else p)
    return kept
