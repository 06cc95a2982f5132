"""Renewal management (billing-rules 5 "Renewal management"): the renewal mode of each prepaid package,
the packages an app holds (its base package and the plugin/add-on lines it has had), their state, and
how a batch of renewals is paid. Pure: plain data and `now` in, decisions out.

A package is identified by its app and its *slot*: "base" for the base package (whatever the edition),
else the plugin's or add-on's product name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain.calendar import iso, parse_instant
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.errors import Conflict, InvalidRequest
from chalicelib.domain.money import Cents
from chalicelib.domain.orders import Payment, split_prepaid

BASE = "base"  # the slot of the base package


class Mode(StrEnum):
    AUTO = "auto"  # renewed for a month at expiry (retried in the grace) when the balance covers it
    MANUAL = "manual"  # the default: warned about, renewed by the customer
    NONE = "none"  # "do not renew": never renewed automatically, never warned about


class PackageState(StrEnum):
    ACTIVE = "active"
    GRACE = "grace"  # expired less than the renewal grace ago: a renewal still continues from the expiry
    STOPPED = "stopped"  # expired longer ago, or the app is out of service


@dataclass(frozen=True)
class Extra:
    """A plugin or add-on line the app has had (its renewable tier): the end of its paid periods and
    its renewal mode. `given_up`: the expiry whose automatic renewal was no longer tried (grace over)."""

    product: str
    until: datetime
    tier: str | None = None
    quantity: int = 1
    mode: Mode = Mode.MANUAL
    given_up: datetime | None = None


@dataclass(frozen=True)
class Package:
    """One prepaid package of an app as listed (renewal management)."""

    slot: str  # BASE or the plugin's / add-on's product
    product: str
    tier: str | None
    quantity: int
    expires_at: datetime
    mode: Mode


def dump_extras(extras: Sequence[Extra]) -> str | None:
    """The app item's `renewal_extras` attribute (JSON), None when there are none."""
    if not extras:
        return None
    return json.dumps({e.product: {"until": iso(e.until), "tier": e.tier, "quantity": e.quantity,
                                   "mode": e.mode.value, "given_up": iso(e.given_up) if e.given_up else None}
                       for e in extras}, sort_keys=True)


def load_extras(text: str | None) -> tuple[Extra, ...]:
    if not text:
        return ()
    raw = json.loads(text)
    return tuple(Extra(product, parse_instant(v["until"]), v.get("tier"), int(v.get("quantity", 1)),
                       Mode(v.get("mode", "manual")),
                       parse_instant(v["given_up"]) if v.get("given_up") else None)
                 for product, v in sorted(raw.items()))


def with_extra_bought(extras: Sequence[Extra], product: str, tier: str | None, quantity: int,
                      until: datetime) -> tuple[Extra, ...]:
    """A purchase of a renewable line: its end moves (the mode is kept; a new product starts manual)."""
    old = next((e for e in extras if e.product == product), None)
    new = Extra(product, until, tier, quantity, old.mode if old else Mode.MANUAL, None)
    return tuple(sorted([*(e for e in extras if e.product != product), new], key=lambda e: e.product))


def with_extra_ended(extras: Sequence[Extra], product: str, at: datetime) -> tuple[Extra, ...]:
    """A refunded line ends at `at` (it stays listed: it may be bought again)."""
    return tuple(replace(e, until=min(e.until, at)) if e.product == product else e for e in extras)


def may_auto_renew(catalog: Catalog, product: str, tier: str | None) -> bool:
    """The catalog says which products may auto-renew: a purchasable product whose `auto_renewable` is
    true, and for an add-on a tier that renews (not one that starts now or runs a fixed number of days)."""
    if product not in catalog.products:
        return False
    spec = catalog.product(product)
    if not spec.purchasable or not spec.auto_renewable:
        return False
    if product in catalog.spec.addons and tier is not None:
        t = catalog.addon(product).tiers.get(tier)
        return t is not None and not t.starts_now and t.days is None
    return True


def check_mode(catalog: Catalog, product: str, tier: str | None, mode: Mode) -> None:
    if mode == Mode.AUTO and not may_auto_renew(catalog, product, tier):
        raise Conflict(f"{product} cannot auto-renew")


def package_state(expires_at: datetime, in_service: bool, now: datetime, catalog: Catalog) -> PackageState:
    if not in_service:
        return PackageState.STOPPED
    if now < expires_at:
        return PackageState.ACTIVE
    if now < expires_at + timedelta(hours=catalog.lifecycle("renewal_grace_hours")):
        return PackageState.GRACE
    return PackageState.STOPPED


def in_grace(expires_at: datetime, now: datetime, catalog: Catalog) -> bool:
    """At or after the expiry, before the grace ends: an automatic renewal is (re)tried."""
    return expires_at <= now < expires_at + timedelta(hours=catalog.lifecycle("renewal_grace_hours"))


# ------------------------------------------------------------------ batch renewal: the payment
@dataclass(frozen=True)
class BatchPayment:
    """How a batch is paid: each item as if bought alone in the order given (voucher on its item,
    then cash, then gift, item after item). `shortfall` > 0: not covered (nothing is bought)."""

    items: tuple[Payment, ...]
    total: Cents  # cash + gift to pay (vouchers excluded)
    cash: Cents
    gift: Cents
    voucher: Cents
    shortfall: Cents

    @property
    def covered(self) -> bool:
        return self.shortfall == 0


def pay_batch(prices: Sequence[Cents], cash: Cents, gift: Cents, voucher: Cents = 0,
              voucher_item: int | None = None) -> BatchPayment:
    """Split every item with the single purchase's rule (`split_prepaid`) over what the earlier items
    left. When the balance runs out, the items it does not cover show what is left (possibly nothing)
    and the rest is the shortfall."""
    if voucher_item is not None and not 0 <= voucher_item < len(prices):
        raise InvalidRequest(f"voucher_item must be an index from 0 to {len(prices) - 1}")
    payments: list[Payment] = []
    short = 0
    for i, price in enumerate(prices):
        v = voucher if i == voucher_item else 0
        due = price - min(v, price)
        take = max(0, min(due, cash + gift))  # all of it when covered (split_prepaid's own test)
        short += due - take
        p = split_prepaid(take, 0, cash, gift)
        payments.append(Payment(price=price, voucher=min(v, price), cash=p.cash, gift=p.gift))
        cash -= p.cash
        gift -= p.gift
    return BatchPayment(
        items=tuple(payments),
        total=sum(p.paid for p in payments) + short,
        cash=sum(p.cash for p in payments),
        gift=sum(p.gift for p in payments),
        voucher=sum(p.voucher for p in payments),
        shortfall=short,
    )
