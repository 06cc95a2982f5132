"""Plugins and add-ons (billing-rules 2, 3, 5): what one is, what a month of it costs, when a
purchase of it starts, its periods, and the push quota log.

A plugin (push, search) has no tier. An add-on has tiers from the catalog:
- desk: tier "standard", `quantity` = seats in total (at least the 3 included; 50.00 per extra seat);
- chatbot: tier "basic" / "advanced", `quantity` = bots; or tier "message_pack", `quantity` = packs
  of 100,000 messages at the catalog's (promotional) pack price;
- call: tier "trial" (7 days at 0.00, once per app), "1v1" or "group"; `quantity` is 1.

Buying a line that is in force (same product and tier, not refunded) is a renewal: the new periods
start where the last one ends. Message packs and the call trial do not renew: they start now.
Changing tier (call 1v1 -> group, chatbot basic -> advanced) while another tier is in force is
refused (409): refund the current tier first, then buy the other. A paid call tier may be bought
during the trial (it starts now; the trial runs out on its own); the trial cannot follow a paid tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.calendar import iso
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.errors import Conflict, InvalidRequest
from chalicelib.domain.money import Cents, parse_amount
from chalicelib.domain.orders import plugin_period_bounds
from chalicelib.domain.usage import QuotaChange

PLUGINS = ("push", "search")
ADDONS = ("desk", "chatbot", "call")
TRIAL = "trial"
MESSAGE_PACK = "message_pack"
STARTS_NOW = (TRIAL, MESSAGE_PACK)  # tiers that never renew: a purchase starts now, beside what runs


@dataclass(frozen=True)
class Line:
    """What one plugin/add-on order buys."""

    product: str
    tier: str | None
    quantity: int


@dataclass(frozen=True)
class Held:
    """A running order of a product (not refunded, ending after now): its line and its span."""

    line: Line
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Start:
    kind: str  # new | renewal
    starts_at: datetime


def line(catalog: Catalog, product: str, tier: str | None = None, quantity: int | None = None) -> Line:
    """Validate a request against the catalog and fill in the defaults (400 when it does not fit)."""
    if product in PLUGINS:
        if tier is not None or quantity not in (None, 1):
            raise InvalidRequest(f"the {product} plugin has no tier or quantity")
        return Line(product, None, 1)
    if product not in ADDONS:
        raise InvalidRequest(f"unknown plugin or add-on {product!r}")
    spec = catalog.addon(product)
    tiers = list(spec["tiers"]) + {"desk": [], "chatbot": [MESSAGE_PACK], "call": [TRIAL]}[product]
    if tier is None:  # `tier` is optional: the first listed (desk standard, chatbot basic, call 1v1)
        tier = tiers[0]
    if tier not in tiers:
        raise InvalidRequest(f"{product} tier {tier!r} is not one of: {', '.join(tiers)}")
    if product == "desk":
        included = int(spec["included_seats"])
        if quantity is not None and quantity < included:
            raise InvalidRequest(f"desk quantity is the number of seats, at least the {included} included")
        return Line(product, tier, included if quantity is None else quantity)
    if product == "call" and quantity not in (None, 1):
        raise InvalidRequest("call is bought one at a time: quantity must be 1")
    return Line(product, tier, 1 if quantity is None else quantity)


def monthly_price(catalog: Catalog, item: Line) -> Cents:
    """The per-month list price of what was bought (stored on the order; the refund's used value)."""
    if item.product in PLUGINS:
        return catalog.monthly_price(item.product)
    spec = catalog.addon(item.product)
    if item.tier == TRIAL:
        return parse_amount(spec["trial_price"])
    if item.tier == MESSAGE_PACK:
        return parse_amount(spec["message_pack_price"]) * item.quantity
    tier_price = parse_amount(spec["tiers"][item.tier])
    if item.product == "desk":
        extra_seats = max(0, item.quantity - int(spec["included_seats"]))
        return tier_price + parse_amount(spec["extra_seat_price"]) * extra_seats
    return tier_price * item.quantity


def plan_start(item: Line, running: Sequence[Held], now: datetime, trial_used: bool) -> Start:
    """When a purchase starts, given the product's running orders."""
    if item.tier == TRIAL:
        if trial_used:
            raise Conflict("the call trial can be used once per app")
        if any(h.line.tier != TRIAL for h in running):
            raise Conflict("a paid call tier is in force: the trial is for an app without one")
    if item.tier in STARTS_NOW:
        return Start("new", now)
    renewable = [h for h in running if h.line.tier not in STARTS_NOW]
    other = sorted({str(h.line.tier) for h in renewable if h.line.tier != item.tier})
    if other:
        raise Conflict(
            f"{item.product} {', '.join(other)} is in force: changing tier is not supported; "
            "refund it first, then buy the other tier"
        )
    if renewable:
        return Start("renewal", max(h.ends_at for h in renewable))
    return Start("new", now)


def period_bounds(catalog: Catalog, item: Line, start: datetime, months: int,
                  tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The trial is one period of `trial_days` days; everything else follows the plugin period rule."""
    if item.tier == TRIAL:
        if months != 1:
            raise InvalidRequest("the call trial is one period: months must be 1")
        return [(start, start + timedelta(days=int(catalog.addon("call")["trial_days"])))]
    return plugin_period_bounds(start, months, tz)


def in_force(catalog: Catalog, running: Sequence[Held], now: datetime) -> dict[str, Any] | None:
    """A product's allowances now (None when nothing of it is in force). `ends_at` is the end of what
    is paid for, renewals included; the line in force is the one whose periods contain now."""
    held = [h for h in running if h.starts_at <= now < h.ends_at]
    if not held:
        return None
    product = held[0].line.product
    ends_at = iso(max(h.ends_at for h in running))
    if product == "push":
        spec = catalog.plugin(product)
        return {"ends_at": ends_at, "included_daily_broadcast_calls": int(spec["included_daily_broadcast_calls"]),
                "messages_per_month": int(spec["included_messages_per_month"])}
    if product == "search":
        spec = catalog.plugin(product)
        return {"ends_at": ends_at, "stored_messages_per_month": int(spec["included_stored_per_month"]),
                "requests_per_month": int(spec["included_requests_per_month"])}
    spec = catalog.addon(product)
    main = [h.line for h in held if h.line.tier not in STARTS_NOW]
    if product == "desk":
        return {"tier": main[0].tier, "seats": main[0].quantity, "included_seats": int(spec["included_seats"]),
                "ends_at": ends_at}
    if product == "chatbot":
        packs = sum(h.line.quantity for h in held if h.line.tier == MESSAGE_PACK)
        return {"tier": main[0].tier if main else None, "bots": main[0].quantity if main else 0,
                "message_packs": packs, "messages": packs * int(spec["message_pack_size"]), "ends_at": ends_at}
    trial_end = max((h.ends_at for h in held if h.line.tier == TRIAL), default=None)
    return {"tier": main[0].tier if main else TRIAL, "trial_ends_at": iso(trial_end) if trial_end else None,
            "ends_at": ends_at}


def record_quota(log: Sequence[QuotaChange], at: datetime, quota: int, keep: int = 20,
                 window: timedelta = timedelta(days=2)) -> list[QuotaChange]:
    """Append (at, quota) to the push quota log, replacing a change made at the same instant, and
    trim it: the last `keep` changes, every change within `window` before `at` (the daily bill
    looks back that far) and the one in force at the window's start."""
    changes = sorted(c for c in log if c[0] != at) + [(at, quota)]
    cutoff = at - window
    before = [c for c in changes if c[0] < cutoff]
    kept = set(before[-1:] + changes[-keep:])
    return [c for c in changes if c[0] >= cutoff or c in kept]
