"""The app aggregate and the lifecycle jobs' decisions (billing-rules 3, 5, 7), pure: state and `now`
in, the new state and the events to record out. Domain only: no AWS."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.config import default_catalog as catalog
from chalicelib.domain.app import (
    OFF_LOG_DAYS,
    AppState,
    ExpiryWarning,
    OffSpan,
    PurchasePlan,
    Reclaimed,
    Renewal,
    Status,
    Stopped,
    StopReason,
    plan_purchase,
)
from chalicelib.domain.calendar import iso, parse_instant
from chalicelib.domain.errors import Conflict, Gone
from chalicelib.domain.lifecycle import (
    Dues,
    Enforcement,
    WarningRun,
    auto_renewal_step,
    dues,
    enforcement,
    expiry_warning,
    renewals_due,
    warning_days,
)

UTC_ZONE = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")
STANDARD = 39900


def t(text: str) -> datetime:
    return parse_instant(text)


def app(edition: str = "standard", status: Status = Status.ENABLED, expires: str = "2026-08-20T10:00:00Z",
        **kw) -> AppState:
    return AppState(edition=edition, status=status, expires_at=t(expires), **kw)


def stopped(reason: StopReason, at: str, **kw) -> AppState:
    after, _ = app(**kw).stop(reason, t(at))
    return after


# ------------------------------------------------------------------ a new app (section 3)
def test_new_app_starts_on_developer_enabled_expiring_a_local_month_later():
    a = AppState.new(t("2026-01-30T17:00:00Z"), SHANGHAI)  # Jan 31 01:00 in Shanghai
    assert (a.edition, a.status, iso(a.expires_at)) == ("developer", Status.ENABLED, "2026-02-27T17:00:00Z")
    assert a.in_service and not a.had_paid and not a.auto_renew and a.off_log is None
    assert iso(AppState.new(t("2026-01-30T17:00:00Z"), UTC_ZONE).expires_at) == "2026-02-28T17:00:00Z"


# ------------------------------------------------------------------ stop (section 7)
def test_stop_on_expiry_records_reason_instant_and_notice():
    now = t("2026-08-21T10:00:00Z")
    after, event = app().stop(StopReason.EXPIRED, now)
    assert (after.status, after.stop_reason, after.stopped_at) == (Status.STOPPED, StopReason.EXPIRED, now)
    assert event == Stopped(StopReason.EXPIRED, now) and event.kind == "stopped"
    assert not after.in_service


def test_stop_opens_an_out_of_service_span_with_the_edition_it_had():
    now = t("2026-09-16T00:00:00Z")
    after, _ = app("pro").stop(StopReason.ARREARS, now)
    assert after.off_log == (OffSpan(now, None, "pro"),)
    assert after.off_spans == (OffSpan(now, None, "pro"),)


def test_stop_forgets_spans_that_ended_more_than_the_off_log_days_ago():
    now = t("2026-09-16T00:00:00Z")
    old = OffSpan(t("2026-01-01T00:00:00Z"), now - timedelta(days=OFF_LOG_DAYS), "standard")
    kept = OffSpan(t("2026-05-01T00:00:00Z"), now - timedelta(days=OFF_LOG_DAYS - 1), "standard")
    after, _ = app(off_log=(old, kept)).stop(StopReason.EXPIRED, now)
    assert after.off_log == (kept, OffSpan(now, None, "standard"))


# ------------------------------------------------------------------ disable (base-package refund, section 5)
def test_refund_disables_the_app_now_expired_without_auto_renew():
    now = t("2026-03-11T00:00:00Z")
    after = app(expires="2026-04-01T00:00:00Z", auto_renew=True).disable(now)
    assert (after.status, after.disabled_at, after.expires_at, after.auto_renew) == (Status.DISABLED, now, now, False)
    assert after.stop_reason is None and after.off_log == (OffSpan(now, None, "standard"),)


def test_refund_of_a_stopped_app_stays_in_the_span_its_stop_opened():
    stop_at, refund_at = t("2026-08-21T10:00:00Z"), t("2026-08-25T00:00:00Z")
    after = stopped(StopReason.EXPIRED, "2026-08-21T10:00:00Z").disable(refund_at)
    assert (after.status, after.stop_reason, after.stopped_at, after.disabled_at) == (
        Status.DISABLED, None, stop_at, refund_at)
    assert after.off_log == (OffSpan(stop_at, None, "standard"),)


# ------------------------------------------------------------------ bring back
def test_bring_back_closes_the_open_span_and_clears_the_stop():
    stop_at, back_at = t("2026-06-02T02:00:00Z"), t("2026-06-03T09:30:00Z")
    after = stopped(StopReason.ARREARS, "2026-06-02T02:00:00Z").bring_back(back_at)
    assert (after.status, after.stop_reason, after.stopped_at, after.disabled_at) == (Status.ENABLED, None, None, None)
    assert after.off_log == (OffSpan(stop_at, back_at, "standard"),)


def test_bring_back_of_an_app_stopped_before_spans_were_recorded_records_none():
    legacy = app(status=Status.STOPPED, stop_reason=StopReason.EXPIRED, stopped_at=t("2026-08-21T10:00:00Z"))
    assert legacy.off_spans == (OffSpan(t("2026-08-21T10:00:00Z"), None, "standard"),)
    after = legacy.bring_back(t("2026-08-22T00:00:00Z"))
    assert after.off_log is None and after.off_spans == ()


def test_off_spans_of_an_enabled_app_without_a_log_are_none():
    assert app().off_spans == ()
    disabled = app(status=Status.DISABLED, disabled_at=t("2026-03-11T00:00:00Z"))
    assert disabled.off_spans == (OffSpan(t("2026-03-11T00:00:00Z"), None, "standard"),)


def test_reenable_sets_the_new_expiry_and_restarts_the_warnings():
    now, until = t("2026-08-22T00:00:00Z"), t("2026-09-22T00:00:00Z")
    after = replace(stopped(StopReason.EXPIRED, "2026-08-21T10:00:00Z"), last_warned_day="2026-08-21").reenable(
        until, now)
    assert (after.status, after.expires_at, after.last_warned_day) == (Status.ENABLED, until, None)


# ------------------------------------------------------------------ purchase effects (section 5)
def test_renewal_moves_the_expiry_and_restarts_the_warnings():
    now, ends = t("2026-08-18T00:00:00Z"), t("2026-09-20T10:00:00Z")
    plan = plan_purchase(app(), "standard", now, catalog())
    after = replace(app(), last_warned_day="2026-08-17").purchased(plan, "standard", ends, now, None)
    assert (after.status, after.expires_at, after.last_warned_day, after.had_paid) == (
        Status.ENABLED, ends, None, True)
    assert after.off_log is None  # a renewal of an enabled app opens or closes no span


def test_purchase_on_a_stopped_app_brings_it_back_now():
    now, ends = t("2026-08-23T00:00:00Z"), t("2026-09-23T00:00:00Z")
    s = stopped(StopReason.EXPIRED, "2026-08-21T10:00:00Z")
    plan = plan_purchase(s, "pro", now, catalog())
    after = s.purchased(plan, "pro", ends, now, True)
    assert plan == PurchasePlan("reactivation", now, False)
    assert (after.status, after.edition, after.expires_at, after.auto_renew) == (Status.ENABLED, "pro", ends, True)
    assert after.off_log == (OffSpan(t("2026-08-21T10:00:00Z"), now, "standard"),)


def test_first_purchase_on_developer_makes_it_paid_and_keeps_auto_renew_unless_given():
    now, ends = t("2026-03-01T00:00:00Z"), t("2026-04-01T00:00:00Z")
    dev = app("developer", expires="2026-03-15T00:00:00Z", auto_renew=False)
    plan = plan_purchase(dev, "standard", now, catalog())
    after = dev.purchased(plan, "standard", ends, now, None)
    assert (plan.kind, after.edition, after.had_paid, after.auto_renew, after.expires_at) == (
        "new", "standard", True, False, ends)


def test_upgrade_keeps_the_app_enabled_with_the_new_edition():
    now, ends = t("2026-06-16T00:00:00Z"), t("2026-07-16T00:00:00Z")
    plan = plan_purchase(app(expires="2026-07-01T00:00:00Z"), "pro", now, catalog())
    after = app(expires="2026-07-01T00:00:00Z").purchased(plan, "pro", ends, now, None)
    assert (plan.kind, after.status, after.edition, after.expires_at) == ("upgrade", Status.ENABLED, "pro", ends)


def test_a_reclaimed_app_cannot_be_bought_for():
    with pytest.raises(Gone):
        plan_purchase(app(status=Status.RECLAIMED), "standard", t("2026-08-23T00:00:00Z"), catalog())


def test_a_disabled_app_is_reactivated_now():
    now = t("2026-03-12T00:00:00Z")
    plan = plan_purchase(app().disable(t("2026-03-11T00:00:00Z")), "standard", now, catalog())
    assert plan == PurchasePlan("reactivation", now, False)


# ------------------------------------------------------------------ auto-renew flag, Developer extension
def test_developer_edition_cannot_auto_renew():
    with pytest.raises(Conflict):
        app("developer").with_auto_renew(True)
    assert app("developer", auto_renew=True).with_auto_renew(False).auto_renew is False
    assert app().with_auto_renew(True).auto_renew is True


def test_developer_extension_after_expiry_expires_a_local_month_from_now():
    now = t("2026-01-30T17:00:00Z")  # Jan 31 01:00 in Shanghai: a month later is Feb 28 (clamped)
    s = replace(stopped(StopReason.EXPIRED, "2026-01-29T00:00:00Z", edition="developer",
                        expires="2026-01-28T00:00:00Z"), last_warned_day="2026-01-29")
    after = s.extend_trial(now, SHANGHAI)
    assert (after.status, iso(after.expires_at), after.last_warned_day) == (
        Status.ENABLED, "2026-02-27T17:00:00Z", None)
    assert after.off_log == (OffSpan(t("2026-01-29T00:00:00Z"), now, "developer"),)


def test_developer_extension_is_refused_before_expiry_and_for_paid_editions():
    with pytest.raises(Conflict):
        app("developer", expires="2026-02-01T00:00:00Z").extend_trial(t("2026-01-31T23:59:59Z"), UTC_ZONE)
    assert app("developer", expires="2026-02-01T00:00:00Z").extend_trial(
        t("2026-02-01T00:00:00Z"), UTC_ZONE).expires_at == t("2026-03-01T00:00:00Z")
    with pytest.raises(Conflict):
        app("standard", expires="2026-02-01T00:00:00Z").extend_trial(t("2026-02-02T00:00:00Z"), UTC_ZONE)


# ------------------------------------------------------------------ writes, deletion, reclamation
def test_reclaimed_app_refuses_writes_with_410_and_a_stopped_one_is_not_in_service():
    with pytest.raises(Gone):
        app(status=Status.RECLAIMED).ensure_writable(1400000001)
    with pytest.raises(Gone):
        app(status=Status.RECLAIMED).ensure_in_service(1400000001, "logins need an enabled app")
    with pytest.raises(Conflict) as err:
        stopped(StopReason.ARREARS, "2026-06-02T02:00:00Z").ensure_in_service(1400000001, "logins")
    assert err.value.code == "not_in_service"
    app().ensure_in_service(1400000001, "logins")  # enabled: allowed


def test_only_a_stopped_or_disabled_app_can_be_deleted():
    with pytest.raises(Conflict):
        app().ensure_deletable()
    stopped(StopReason.EXPIRED, "2026-08-21T10:00:00Z").ensure_deletable()
    app().disable(t("2026-03-11T00:00:00Z")).ensure_deletable()


def test_reclaim_makes_a_tombstone_whose_data_is_still_to_purge():
    now = t("2026-11-19T10:00:00Z")
    after, event = replace(stopped(StopReason.EXPIRED, "2026-08-21T10:00:00Z"), auto_renew=True).reclaim(now)
    assert (after.status, after.reclaimed_at, after.purge_pending, after.auto_renew) == (
        Status.RECLAIMED, now, True, False)
    assert event == Reclaimed(now) and event.kind == "reclaimed"
    assert after.purged().purge_pending is False


def test_an_enabled_app_is_not_reclaimed():
    with pytest.raises(Conflict):
        app().reclaim(t("2026-11-19T10:00:00Z"))


# ------------------------------------------------------------------ due times of the lifecycle jobs
def test_dues_of_an_enabled_app_warn_from_local_day_e_minus_6_and_stop_a_day_after_expiry():
    a = app(expires="2026-08-20T20:00:00Z")  # Aug 21 04:00 in Shanghai
    assert dues(a, SHANGHAI, catalog()) == Dues(t("2026-08-14T16:00:00Z"), t("2026-08-21T20:00:00Z"), None)
    assert dues(a, UTC_ZONE, catalog()).warn_due_at == t("2026-08-14T00:00:00Z")


def test_dues_of_an_auto_renewing_app_enforce_at_expiry_and_stay_due_through_the_grace():
    a = app(auto_renew=True)
    assert dues(a, UTC_ZONE, catalog()).enforce_due_at == t("2026-08-20T10:00:00Z")
    tried = replace(a, renew_attempted_for=a.expires_at)  # a failed try does not end the retries
    assert dues(tried, UTC_ZONE, catalog()).enforce_due_at == t("2026-08-20T10:00:00Z")
    assert dues(replace(a, edition="developer"), UTC_ZONE, catalog()).enforce_due_at == t("2026-08-21T10:00:00Z")


def test_dues_after_the_last_warning_day_have_no_warning():
    assert dues(app(last_warned_day="2026-08-21"), UTC_ZONE, catalog()).warn_due_at is None
    assert dues(app(last_warned_day="2026-08-17"), UTC_ZONE, catalog()).warn_due_at == t("2026-08-18T00:00:00Z")


def test_dues_of_stopped_disabled_and_reclaimed_apps():
    c = catalog()
    expired = stopped(StopReason.EXPIRED, "2026-08-21T10:00:00Z")
    assert dues(expired, UTC_ZONE, c) == Dues(t("2026-08-14T00:00:00Z"), None, t("2026-11-19T10:00:00Z"))
    arrears = stopped(StopReason.ARREARS, "2026-06-02T02:00:00Z")
    assert dues(arrears, UTC_ZONE, c) == Dues(None, None, t("2026-08-31T02:00:00Z"))
    disabled = app().disable(t("2026-03-11T00:00:00Z"))
    assert dues(disabled, UTC_ZONE, c) == Dues(None, None, t("2026-06-09T00:00:00Z"))
    tomb, _ = expired.reclaim(t("2026-11-19T10:00:00Z"))
    assert dues(tomb, UTC_ZONE, c) == Dues(None, None, t("2026-11-19T10:00:00Z"))
    assert dues(tomb.purged(), UTC_ZONE, c) == Dues(None, None, None)


# ------------------------------------------------------------------ expiry warnings
def test_warning_days_are_the_seven_local_days_ending_with_e_and_the_day_after():
    assert warning_days(t("2026-08-20T10:00:00Z"), UTC_ZONE, catalog()) == (date(2026, 8, 14), date(2026, 8, 21))
    assert warning_days(t("2026-08-20T20:00:00Z"), SHANGHAI, catalog()) == (date(2026, 8, 15), date(2026, 8, 22))


def test_warning_on_a_window_day_marks_the_day_and_sends_one_warning():
    a = app(expires="2026-08-20T20:00:00Z")
    now = t("2026-08-15T01:00:00Z")  # Aug 15 09:00 in Shanghai: E-6 there
    run = expiry_warning(a, t("2026-08-14T16:00:00Z"), now, SHANGHAI, catalog())
    assert run == WarningRun(replace(a, last_warned_day="2026-08-15"),
                             ExpiryWarning(date(2026, 8, 15), date(2026, 8, 21), a.expires_at, stopped=False))


def test_warning_is_sent_once_per_local_day():
    a = app(last_warned_day="2026-08-16")
    assert expiry_warning(a, t("2026-08-16T00:00:00Z"), t("2026-08-16T23:00:00Z"), UTC_ZONE, catalog()) == (
        WarningRun(None))


def test_warning_on_e_plus_1_after_the_stop_says_it_was_stopped():
    s = replace(stopped(StopReason.EXPIRED, "2026-08-21T10:00:00Z"), last_warned_day="2026-08-20")
    run = expiry_warning(s, t("2026-08-21T00:00:00Z"), t("2026-08-21T11:00:00Z"), UTC_ZONE, catalog())
    assert run is not None and run.warning is not None
    assert (run.warning.day, run.warning.stopped, run.warning.kind) == (date(2026, 8, 21), True, "expiry_warning")


def test_warning_window_missed_marks_the_last_day_without_sending():
    run = expiry_warning(app(), t("2026-08-14T00:00:00Z"), t("2026-08-23T01:00:00Z"), UTC_ZONE, catalog())
    assert run == WarningRun(replace(app(), last_warned_day="2026-08-21"), None)


def test_warning_run_before_the_window_does_nothing():
    run = expiry_warning(app(), t("2026-08-13T00:00:00Z"), t("2026-08-13T01:00:00Z"), UTC_ZONE, catalog())
    assert run == WarningRun(None)


def test_no_warning_is_due_for_a_listing_not_yet_due_or_an_app_stopped_for_arrears():
    now = t("2026-08-15T01:00:00Z")
    assert expiry_warning(app(), t("2026-08-16T00:00:00Z"), now, UTC_ZONE, catalog()) is None
    assert expiry_warning(app(), None, now, UTC_ZONE, catalog()) is None
    arrears = stopped(StopReason.ARREARS, "2026-08-14T00:00:00Z")
    assert expiry_warning(arrears, t("2026-08-15T00:00:00Z"), now, UTC_ZONE, catalog()) is None


# ------------------------------------------------------------------ expiry enforcement
def test_enforcement_waits_before_expiry_and_stops_24_hours_after_it():
    a, c, due = app(), catalog(), t("2026-08-20T00:00:00Z")  # listed early (a due time from an older state)
    assert enforcement(a, due, t("2026-08-20T09:59:59Z"), c) == Enforcement.WAIT
    assert enforcement(a, due, t("2026-08-21T09:59:59Z"), c) == Enforcement.WAIT
    assert enforcement(a, due, t("2026-08-21T10:00:00Z"), c) == Enforcement.STOP


def test_auto_renew_is_retried_on_every_run_of_the_grace_and_then_the_app_stops():
    a, c, due = app(auto_renew=True), catalog(), t("2026-08-20T10:00:00Z")
    assert auto_renewal_step(a, STANDARD - 1, t("2026-08-20T10:00:00Z"), UTC_ZONE, c) is None  # not covered
    assert renewals_due(a, t("2026-08-20T10:00:00Z"), c)
    assert enforcement(a, due, t("2026-08-20T11:00:00Z"), c) == Enforcement.WAIT
    after, renewal = auto_renewal_step(a, STANDARD, t("2026-08-21T09:05:00Z"), UTC_ZONE, c)  # topped up in the grace
    assert renewal is not None and renewal.starts_at == t("2026-08-20T10:00:00Z")  # from the old expiry
    assert after.expires_at == t("2026-09-20T10:00:00Z")
    assert auto_renewal_step(a, STANDARD, t("2026-08-21T10:00:00Z"), UTC_ZONE, c) is None  # the grace is over
    assert enforcement(a, due, t("2026-08-21T10:00:00Z"), c) == Enforcement.STOP


def test_enforcement_is_not_due_for_a_stale_listing_or_an_app_out_of_service():
    c, now = catalog(), t("2026-08-22T00:00:00Z")
    assert enforcement(app(), t("2026-08-22T00:00:01Z"), now, c) == Enforcement.NOT_DUE
    assert enforcement(app(), None, now, c) == Enforcement.NOT_DUE
    assert enforcement(stopped(StopReason.EXPIRED, "2026-08-21T10:00:00Z"), now, now, c) == Enforcement.NOT_DUE


def test_auto_renew_buys_one_month_from_the_old_expiry_when_the_balance_covers_it():
    a = app(expires="2026-01-31T08:00:00Z", auto_renew=True, last_warned_day="2026-01-31")
    after, renewal = auto_renewal_step(a, STANDARD, a.expires_at, UTC_ZONE, catalog())
    assert renewal == Renewal("standard", 1, t("2026-01-31T08:00:00Z"), STANDARD,
                              ((t("2026-01-31T08:00:00Z"), t("2026-02-28T08:00:00Z")),))
    assert renewal.kind == "auto_renewal"
    assert (after.expires_at, after.renew_attempted_for, after.last_warned_day) == (
        t("2026-02-28T08:00:00Z"), t("2026-01-31T08:00:00Z"), None)


def test_auto_renew_month_end_follows_the_billing_zone():
    a = app(expires="2026-01-30T17:00:00Z", auto_renew=True)  # Jan 31 01:00 in Shanghai
    after, renewal = auto_renewal_step(a, STANDARD, a.expires_at, SHANGHAI, catalog())
    assert renewal is not None and after.expires_at == t("2026-02-27T17:00:00Z")


def test_auto_renew_without_enough_balance_buys_nothing():
    a = app(expires="2026-01-31T08:00:00Z", auto_renew=True)
    assert auto_renewal_step(a, STANDARD - 1, a.expires_at, UTC_ZONE, catalog()) is None
    assert enforcement(a, t("2026-02-01T08:00:00Z"), t("2026-02-01T08:00:00Z"), catalog()) == Enforcement.STOP



# ------------------------------------------------------------------ disable on request (issue 18)
def test_a_disable_on_request_opens_an_off_span_that_enable_closes() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from chalicelib.domain.app import AppState, DisabledReason, OffSpan, Status

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    app = AppState.new(t0, ZoneInfo("UTC"))
    off = app.disable_on_request(1, datetime(2026, 3, 10, tzinfo=UTC))
    assert (off.status, off.disabled_reason) == (Status.DISABLED, DisabledReason.REQUESTED)
    assert off.expires_at == app.expires_at
    on = off.enable(1, datetime(2026, 3, 20, tzinfo=UTC))
    assert on.status == Status.ENABLED and on.disabled_reason is None
    assert on.off_spans == (OffSpan(datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC), "developer"),)
