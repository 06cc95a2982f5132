"""Who is told (billing-rules 7a): the account's own contact and up to 10 more, each subscribed per
notification kind to channels; and the balance alert (one `balance_low` per downward crossing of a
threshold). Pure: plain data in, recipients and decisions out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.money import Cents

ACCOUNT = "account"  # the contact_id of the account's own contact
KINDS = ("expiry_warning", "stopped", "arrears", "reclaimed", "bill", "balance_low")
CHANNELS = ("email", "sms")
MANDATORY = ("stopped", "arrears", "reclaimed")  # the account's own contact cannot leave these
MAX_CONTACTS = 10  # besides the account's own
MAX_THRESHOLD = 100_000_000  # cents: 1,000,000.00


@dataclass(frozen=True)
class Contact:
    contact_id: str
    name: str | None
    email: str | None
    phone: str | None
    subscriptions: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipient:
    contact_id: str
    channel: str
    to: str


def own_default() -> dict[str, tuple[str, ...]]:
    """The account's own contact hears of every kind on both channels until it unsubscribes."""
    return {kind: CHANNELS for kind in KINDS}


def check(own_subscriptions: dict[str, tuple[str, ...]], others: Sequence[Contact]) -> None:
    """400 unless: at most 10 further contacts with distinct ids (not "account"), each reachable on the
    channels it subscribes to, known kinds and channels, and the account's own contact still
    subscribed to stopped, arrears and reclaimed on both channels."""
    if len(others) > MAX_CONTACTS:
        raise InvalidRequest(f"items: at most {MAX_CONTACTS} contacts besides the account's own")
    ids = [c.contact_id for c in others]
    if len(set(ids)) != len(ids):
        raise InvalidRequest("items: each contact_id at most once")
    for c in others:  # a channel without an address on the contact is not used (recipients)
        for kind, channels in c.subscriptions.items():
            _check_kind(kind, channels, c.contact_id)
    for kind, channels in own_subscriptions.items():
        _check_kind(kind, channels, ACCOUNT)
    for kind in MANDATORY:
        if set(own_subscriptions.get(kind, ())) != set(CHANNELS):
            raise InvalidRequest(f"the account's own contact cannot unsubscribe from {kind}")


def _check_kind(kind: str, channels: Sequence[str], who: str) -> None:
    if kind not in KINDS:
        raise InvalidRequest(f"contact {who}: unknown notification kind {kind!r}")
    if any(ch not in CHANNELS for ch in channels) or len(set(channels)) != len(channels):
        raise InvalidRequest(f"contact {who}: channels are email and sms, each at most once")


def recipients(kind: str, email: str, phone: str, own_subscriptions: dict[str, tuple[str, ...]],
               others: Sequence[Contact]) -> list[Recipient]:
    """Everyone told of a notification of `kind`, once per channel: the account's own contact first."""
    out = [Recipient(ACCOUNT, ch, email if ch == "email" else phone)
           for ch in CHANNELS if ch in own_subscriptions.get(kind, CHANNELS)]
    for c in others:
        for ch in CHANNELS:
            to = c.email if ch == "email" else c.phone
            if ch in c.subscriptions.get(kind, ()) and to is not None:
                out.append(Recipient(c.contact_id, ch, to))
    return out


# ------------------------------------------------------------------ stored as JSON on the account item
def dump(own_subscriptions: dict[str, tuple[str, ...]], others: Sequence[Contact]) -> str:
    return json.dumps({"own": {k: list(v) for k, v in own_subscriptions.items()},
                       "others": [{"contact_id": c.contact_id, "name": c.name, "email": c.email, "phone": c.phone,
                                   "subscriptions": {k: list(v) for k, v in c.subscriptions.items()}}
                                  for c in others]}, sort_keys=True)


def load(text: str | None) -> tuple[dict[str, tuple[str, ...]], list[Contact]]:
    if not text:
        return own_default(), []
    raw = json.loads(text)
    own = {k: tuple(v) for k, v in raw.get("own", {}).items()}
    others = [Contact(c["contact_id"], c.get("name"), c.get("email"), c.get("phone"),
                      {k: tuple(v) for k, v in c.get("subscriptions", {}).items()}) for c in raw.get("others", [])]
    return own, others


# ------------------------------------------------------------------ balance alert
@dataclass(frozen=True)
class Alert:
    threshold: Cents | None
    armed: bool


def set_threshold(threshold: Cents | None, balance: Cents) -> Alert:
    """A new threshold is armed when the balance is at or above it (the next crossing alerts)."""
    if threshold is not None and not 0 <= threshold <= MAX_THRESHOLD:
        raise InvalidRequest("threshold: from 0.00 to 1000000.00, or null")
    return Alert(threshold, threshold is not None and balance >= threshold)


def after_move(alert: Alert, before: Cents, after: Cents) -> tuple[Alert, bool]:
    """The alert after a balance move from `before` to `after` (cash + gift), and whether it fires: a
    move from at least T to below T fires once (disarms); back at T or above re-arms it."""
    if alert.threshold is None:
        return alert, False
    t = alert.threshold
    if alert.armed and before >= t > after:
        return Alert(t, False), True
    if not alert.armed and after >= t:
        return Alert(t, True), False
    return alert, False
