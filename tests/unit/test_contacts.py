"""Who is told and the balance alert (billing-rules 7a; issue 18), and the MAU proration of an app
disabled on request (section 6): domain only."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import contacts
from chalicelib.domain.app import AppState
from chalicelib.domain.bills import enabled_fraction
from chalicelib.domain.contacts import Alert, Contact, Recipient
from chalicelib.domain.errors import InvalidRequest


def test_recipients_are_the_own_contact_first_then_each_subscribed_contact_per_channel() -> None:
    own = {**contacts.own_default(), "expiry_warning": ("email",)}
    ops = Contact("ops", "Ops", "ops@x.test", "+1555", {"expiry_warning": ("sms",), "bill": ("email", "sms")})
    cfo = Contact("cfo", None, "cfo@x.test", None, {"bill": ("email",)})
    assert contacts.recipients("expiry_warning", "a@x.test", "+1000", own, [ops, cfo]) == [
        Recipient("account", "email", "a@x.test"), Recipient("ops", "sms", "+1555")]
    assert [(r.contact_id, r.channel) for r in contacts.recipients("bill", "a@x.test", "+1000", own, [ops, cfo])] == [
        ("account", "email"), ("account", "sms"), ("ops", "email"), ("ops", "sms"), ("cfo", "email")]


@pytest.mark.parametrize("kind", contacts.MANDATORY)
def test_the_own_contact_cannot_leave_stopped_arrears_reclaimed(kind: str) -> None:
    with pytest.raises(InvalidRequest, match=f"cannot unsubscribe from {kind}"):
        contacts.check({**contacts.own_default(), kind: ("email",)}, [])
    contacts.check({k: v for k, v in contacts.own_default().items() if k in contacts.MANDATORY}, [])


def test_contacts_are_at_most_ten_distinct_and_reachable_on_their_channels() -> None:
    own = contacts.own_default()
    eleven = [Contact(f"c{i}", None, f"c{i}@x.test", None) for i in range(11)]
    with pytest.raises(InvalidRequest, match="at most 10"):
        contacts.check(own, eleven)
    contacts.check(own, eleven[:10])
    with pytest.raises(InvalidRequest, match="at most once"):
        contacts.check(own, [eleven[0], eleven[0]])
    no_phone = Contact("x", None, "x@x.test", None, {"stopped": ("email", "sms")})
    contacts.check(own, [no_phone])  # its SMS subscription is not used: nowhere to send it
    assert [r.channel for r in contacts.recipients("stopped", "a@x", "+1", own, [no_phone])][2:] == ["email"]
    with pytest.raises(InvalidRequest, match="unknown notification kind"):
        contacts.check(own, [Contact("x", None, "x@x.test", None, {"spam": ("email",)})])
    own2, others = contacts.load(contacts.dump(own, eleven[:2]))
    assert own2 == own and others == eleven[:2]


def test_the_alert_fires_once_per_downward_crossing_and_rearms_at_the_threshold() -> None:
    a = contacts.set_threshold(50_000, 60_000)
    assert a == Alert(50_000, True)
    a, fired = contacts.after_move(a, 60_000, 50_000)  # at T: not below
    assert not fired and a.armed
    a, fired = contacts.after_move(a, 50_000, 49_999)
    assert fired and not a.armed
    a, fired = contacts.after_move(a, 49_999, 10_000)
    assert not fired
    a, fired = contacts.after_move(a, 10_000, 49_999)  # a top-up short of T: still disarmed
    assert not fired and not a.armed
    a, fired = contacts.after_move(a, 49_999, 50_000)  # back at T: re-armed
    assert not fired and a.armed
    assert contacts.set_threshold(50_000, 40_000) == Alert(50_000, False)
    assert contacts.set_threshold(None, 0) == Alert(None, False)
    with pytest.raises(InvalidRequest):
        contacts.set_threshold(100_000_001, 0)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Shanghai"])
def test_an_app_disabled_on_request_is_prorated_over_its_disabled_span(tz: str) -> None:
    """March (31 days) with the app disabled from the 11th to the 21st and again from the 31st: enabled
    10 + 10 days of 31 in the zone's month (both spans at local midnight)."""
    zone = ZoneInfo(tz)
    local = lambda d: datetime(2026, 3, d, tzinfo=zone).astimezone(UTC)  # noqa: E731
    app = AppState.new(local(1), zone)
    app = app.disable_on_request(1, local(11)).enable(1, local(21)).disable_on_request(1, local(31))
    start, end = local(1), datetime(2026, 4, 1, tzinfo=zone).astimezone(UTC)
    spans = tuple((s.off_at, s.on_at, s.edition) for s in app.off_spans)
    assert enabled_fraction(spans, start, end) == Fraction(20, 31)
