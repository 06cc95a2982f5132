"""Arrears (billing-rules 7, worked example 10), pure: the account's arrears state and `now` in, the
new state, the warning and the stop decisions out. Domain only: no AWS."""

from __future__ import annotations

from datetime import datetime

from chalicelib.config import default_catalog as catalog
from chalicelib.domain.app import AppState, OffSpan, Status, StopReason
from chalicelib.domain.arrears import (
    AccountStatus,
    Arrears,
    ArrearsWarning,
    back_from_arrears,
    stop_for_arrears,
)
from chalicelib.domain.calendar import parse_instant

POSTED = "2026-06-01T02:00:00Z"  # worked example 10: the May bill, 35.18, on 10.00 cash


def t(text: str) -> datetime:
    return parse_instant(text)


def app(status: Status = Status.ENABLED, expires: str = "2026-06-20T00:00:00Z", **kw) -> AppState:
    return AppState(edition="standard", status=status, expires_at=t(expires), **kw)


def in_arrears(balance: int = -2518, at: str = POSTED) -> Arrears:
    after, _ = Arrears().enter(balance, t(at), catalog())
    return after


# ------------------------------------------------------------------ entering arrears
def test_a_bill_leaving_the_balance_below_zero_starts_arrears_with_a_24_hour_deadline():
    after, warning = Arrears().enter(-2518, t(POSTED), catalog())
    assert after == Arrears(AccountStatus.ARREARS, t(POSTED), t("2026-06-02T02:00:00Z"), ())
    assert warning == ArrearsWarning(-2518, t("2026-06-02T02:00:00Z")) and warning.kind == "arrears"


def test_a_bill_leaving_the_balance_at_zero_or_above_is_not_arrears():
    assert Arrears().enter(0, t(POSTED), catalog()) == (Arrears(), None)
    assert Arrears().enter(1, t(POSTED), catalog()) == (Arrears(), None)


def test_a_second_bill_while_a_stop_is_pending_keeps_the_earlier_deadline_and_adds_its_own():
    first = in_arrears()
    after, warning = first.enter(-5000, t("2026-06-01T20:00:00Z"), catalog())
    assert after == Arrears(AccountStatus.ARREARS, t(POSTED), t("2026-06-02T02:00:00Z"),
                            (t("2026-06-02T20:00:00Z"),))
    assert warning == ArrearsWarning(-5000, t("2026-06-02T02:00:00Z"))


def test_later_deadlines_stay_sorted():
    pending = Arrears(AccountStatus.ARREARS, t(POSTED), t("2026-06-02T02:00:00Z"), (t("2026-06-05T00:00:00Z"),))
    after, _ = pending.enter(-100, t("2026-06-03T00:00:00Z"), catalog())
    assert after.later_dues == (t("2026-06-04T00:00:00Z"), t("2026-06-05T00:00:00Z"))


def test_a_bill_after_the_deadline_was_enforced_gets_its_own_deadline_and_keeps_since():
    enforced = Arrears(AccountStatus.ARREARS, t(POSTED), None, ())
    after, warning = enforced.enter(-100, t("2026-06-10T02:00:00Z"), catalog())
    assert after == Arrears(AccountStatus.ARREARS, t(POSTED), t("2026-06-11T02:00:00Z"), ())
    assert warning is not None and warning.stop_at == t("2026-06-11T02:00:00Z")


# ------------------------------------------------------------------ the deadline
def test_before_the_deadline_nothing_is_enforced():
    assert in_arrears().enforce(t("2026-06-02T01:59:59Z")) is None
    assert Arrears().enforce(t("2026-06-02T02:00:00Z")) is None


def test_still_in_arrears_24_hours_after_the_bill_stops_the_apps_and_clears_the_deadline():
    assert in_arrears().enforce(t("2026-06-02T02:00:00Z")) == (
        Arrears(AccountStatus.ARREARS, t(POSTED), None, ()), True)


def test_the_next_bills_deadline_follows_and_passed_ones_are_dropped():
    pending = Arrears(AccountStatus.ARREARS, t(POSTED), t("2026-06-02T02:00:00Z"),
                      (t("2026-06-02T20:00:00Z"), t("2026-06-03T00:00:00Z"), t("2026-06-04T00:00:00Z")))
    after, stop = pending.enforce(t("2026-06-02T22:00:00Z"))  # one later deadline passed meanwhile
    assert stop is True
    assert (after.due_at, after.later_dues) == (t("2026-06-03T00:00:00Z"), (t("2026-06-04T00:00:00Z"),))


def test_a_deadline_after_the_arrears_ended_stops_nothing():
    ended = Arrears(AccountStatus.ACTIVE, None, t("2026-06-02T02:00:00Z"), ())
    assert ended.enforce(t("2026-06-02T02:00:00Z")) == (Arrears(), False)


def test_only_enabled_apps_stop_for_arrears():
    now = t("2026-06-02T02:00:00Z")
    step = stop_for_arrears(app(), now)
    assert step is not None
    after, stopped = step
    assert (after.status, after.stop_reason, after.stopped_at, stopped.reason) == (
        Status.STOPPED, StopReason.ARREARS, now, StopReason.ARREARS)
    assert after.stopped_for(StopReason.ARREARS, now)
    expired, _ = app().stop(StopReason.EXPIRED, t("2026-06-01T00:00:00Z"))
    assert stop_for_arrears(expired, now) is None
    assert stop_for_arrears(app().disable(t("2026-06-01T00:00:00Z")), now) is None


# ------------------------------------------------------------------ the end of arrears
def test_a_top_up_to_zero_or_above_ends_the_arrears():
    assert in_arrears().end(0) == Arrears()
    assert in_arrears().end(482) == Arrears()


def test_a_top_up_leaving_the_balance_below_zero_does_not_end_them():
    assert in_arrears().end(-1) is None
    assert Arrears().end(100) is None  # not in arrears: nothing ends


def test_apps_stopped_for_arrears_with_a_valid_package_come_back():
    stop_at, topup_at = t("2026-06-02T02:00:00Z"), t("2026-06-03T09:00:00Z")
    stopped, _ = app().stop(StopReason.ARREARS, stop_at)
    back = back_from_arrears(stopped, topup_at)
    assert back is not None
    assert (back.status, back.stop_reason, back.stopped_at) == (Status.ENABLED, None, None)
    assert back.off_log == (OffSpan(stop_at, topup_at, "standard"),)


def test_apps_whose_package_expired_meanwhile_or_stopped_for_expiry_stay_stopped():
    stopped, _ = app(expires="2026-06-03T09:00:00Z").stop(StopReason.ARREARS, t("2026-06-02T02:00:00Z"))
    assert back_from_arrears(stopped, t("2026-06-03T09:00:00Z")) is None  # expires_at == now: not valid
    expired, _ = app().stop(StopReason.EXPIRED, t("2026-06-02T02:00:00Z"))
    assert back_from_arrears(expired, t("2026-06-03T00:00:00Z")) is None
    assert back_from_arrears(app(), t("2026-06-03T00:00:00Z")) is None


def test_worked_example_10_arrears_stop_then_top_up():
    """35.18 posted on 10.00 cash -> -25.18, arrears; still negative a day later -> apps stop;
    30.00 top-up -> 4.82, arrears end and the app is enabled again."""
    arrears, warning = Arrears().enter(1000 - 3518, t(POSTED), catalog())
    assert warning is not None and warning.balance == -2518
    run = arrears.enforce(t("2026-06-02T02:00:00Z"))
    assert run is not None and run[1] is True
    step = stop_for_arrears(app(), t("2026-06-02T02:00:00Z"))
    assert step is not None
    assert run[0].end(-2518 + 3000) == Arrears()
    back = back_from_arrears(step[0], t("2026-06-02T03:00:00Z"))
    assert back is not None and back.in_service
