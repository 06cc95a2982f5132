"""Plugins and add-ons (billing-rules 2, 3, 5): what one is, what a month of it costs, when a
purchase of it starts, its periods, and the push quota log. Everything product-specific is catalog
data (chalicelib/catalog.json): a plugin has no tier and its meters; an add-on has tiers and a
quantity rule. As the catalog has them today:
- desk: tier "standard", `quantity` = seats in total (at least the 3 included; 50.00 per extra seat);
- chatbot: tier "basic" / "advanced", `quantity` = bots; or tier "message_pack", `quantity` = packs
  of 100,000 messages at the catalog's (promotional) pack price;
- call: tier "trial" (7 days at 0.00, once per app), "1v1" or "group"; `quantity` is 1.

Buying a line that is in force (same product and tier, not refunded) is a renewal: the new periods
start where the last one ends. Tiers marked `starts_now` (message packs, the call trial) do not renew:
they start now. Changing tier (call 1v1 -> group, chatbot basic -> advanced) while another tier is in
force is refused (409): refund the current tier first, then buy the other. A paid tier may be bought
during a `once_per_app` tier (it starts now; the trial runs out on its own); the trial cannot follow
a paid tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.calendar import iso
from chalicelib.domain.catalog import Catalog, Tier
from chalicelib.domain.errors import Conflict, InvalidRequest
from chalicelib.domain.money import Cents
from chalicelib.domain.orders import plugin_period_bounds
from chalicelib.domain.usage import QuotaChange


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


def is_extra(catalog: Catalog, product: str) -> bool:
    """A plugin or an add-on (not a base edition)."""
    return product in catalog.spec.plugins or product in catalog.spec.addons


def tier_of(catalog: Catalog, item: Line) -> Tier | None:
    """The catalog's tier of an add-on line (None for a plugin)."""
    if item.tier is None or item.product not in catalog.spec.addons:
        return None
    return catalog.addon(item.product).tiers[item.tier]


def _starts_now(catalog: Catalog, item: Line) -> bool:
    tier = tier_of(catalog, item)
    return tier is not None and tier.starts_now


def _once(catalog: Catalog, item: Line) -> bool:
    tier = tier_of(catalog, item)
    return tier is not None and tier.once_per_app


def line(catalog: Catalog, product: str, tier: str | None = None, quantity: int | None = None,
         kind: str = "plugin or add-on") -> Line:
    """Validate a request against the catalog and fill in the defaults (400 when it does not fit)."""
    if product in catalog.spec.plugins and kind != "add-on":
        if tier is not None or quantity not in (None, 1):
            raise InvalidRequest(f"the {product} plugin has no tier or quantity")
        return Line(product, None, 1)
    if product not in catalog.spec.addons or kind == "plugin":
        raise InvalidRequest(f"unknown {kind} {product!r}")
    spec = catalog.addon(product)
    tiers = list(spec.tiers)
    if tier is None:  # `tier` is optional: the first listed (desk standard, chatbot basic, call 1v1)
        tier = tiers[0]
    if tier not in tiers:
        raise InvalidRequest(f"{product} tier {tier!r} is not one of: {', '.join(tiers)}")
    rule = spec.quantity
    if rule.included is not None:
        if quantity is not None and quantity < rule.included:
            raise InvalidRequest(f"{product} quantity is the number of {rule.name or 'units'} in total, "
                                 f"at least the {rule.included} included")
        return Line(product, tier, rule.included if quantity is None else quantity)
    if rule.max is not None and quantity is not None and quantity > rule.max:
        at_most = "one" if rule.max == 1 else f"at most {rule.max}"
        raise InvalidRequest(f"{product} is bought {at_most} at a time: quantity must be {at_most.replace('one', '1')}")
    return Line(product, tier, 1 if quantity is None else quantity)


def monthly_price(catalog: Catalog, item: Line) -> Cents:
    """The per-month list price of what was bought (stored on the order; the refund's used value)."""
    tier = tier_of(catalog, item)
    if tier is None:
        return catalog.monthly_price(item.product)
    rule = catalog.addon(item.product).quantity
    if rule.included is not None:
        extra = max(0, item.quantity - rule.included)
        return tier.price + (rule.extra_unit_price or 0) * extra
    return tier.price * item.quantity


def plan_start(catalog: Catalog, item: Line, running: Sequence[Held], now: datetime, once_used: bool) -> Start:
    """When a purchase starts, given the product's running orders (`once_used`: the app has had
    this line's once-per-app tier already)."""
    if _once(catalog, item):
        if once_used:
            raise Conflict(f"the {item.product} {item.tier} can be used once per app")
        if any(h.line.tier != item.tier for h in running):
            raise Conflict(f"a paid {item.product} tier is in force: the {item.tier} is for an app without one")
    if _starts_now(catalog, item):
        return Start("new", now)
    renewable = [h for h in running if not _starts_now(catalog, h.line)]
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
    """A tier of `days` (the call trial) is one period of that many days; everything else follows
    the plugin period rule."""
    tier = tier_of(catalog, item)
    if tier is not None and tier.days is not None:
        if months != 1:
            raise InvalidRequest(f"the {item.product} {item.tier} is one period: months must be 1")
        return [(start, start + timedelta(days=tier.days))]
    return plugin_period_bounds(start, months, tz)


def in_force(catalog: Catalog, running: Sequence[Held], now: datetime) -> dict[str, Any] | None:
    """A product's allowances now (None when nothing of it is in force). `ends_at` is the end of what
    is paid for, renewals included; the line in force is the one whose periods contain now."""
    held = [h for h in running if h.starts_at <= now < h.ends_at]
    if not held:
        return None
    product = held[0].line.product
    ends_at = iso(max(h.ends_at for h in running))
    if product in catalog.spec.plugins:  # the included amount of each meter, named by the catalog
        meters = catalog.plugin(product).meters.values()
        return {"ends_at": ends_at, **{m.allowance: m.included for m in meters}}
    return _addon_in_force(catalog, product, held, ends_at)


def _addon_in_force(catalog: Catalog, product: str, held: list[Held], ends_at: str) -> dict[str, Any]:
    """An add-on's allowances, named by the catalog: the tier in force (else the once-per-app tier
    held), the quantity (`quantity.name`, `included_<name>`), pack tiers' counts (`count_as`,
    `units_as`) and a tier's own end (`ends_as`)."""
    spec = catalog.addon(product)
    main = [h.line for h in held if not _starts_now(catalog, h.line)]
    once = [h.line.tier for h in held if _once(catalog, h.line)]
    view: dict[str, Any] = {"tier": main[0].tier if main else (once[0] if once else None)}
    rule = spec.quantity
    if rule.name is not None:
        view[rule.name] = main[0].quantity if main else 0
        if rule.included is not None:
            view[f"included_{rule.name}"] = rule.included
    for name, tier in spec.tiers.items():
        mine = [h for h in held if h.line.tier == name]
        if tier.count_as is not None:
            view[tier.count_as] = sum(h.line.quantity for h in mine)
        if tier.units_as is not None and tier.pack_size is not None:
            view[tier.units_as] = sum(h.line.quantity for h in mine) * tier.pack_size
        if tier.ends_as is not None:
            view[tier.ends_as] = iso(max(h.ends_at for h in mine)) if mine else None
    view["ends_at"] = ends_at
    return view


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
