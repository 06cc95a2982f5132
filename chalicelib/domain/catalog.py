"""The catalog (chalicelib/catalog.json, or the file named by IMBILL_CATALOG) as validated, typed data.

Every product is described here: editions, plugins and add-ons with their prices, tiers, quantities,
included allowances, overage meters and the months they may be bought for; the rule numbers
(lifecycle delays, warning offsets, the settlement window); and the notification texts (templates).
The pydantic models check the file when it is loaded: a bad catalog fails at load with a message
naming the field. A price is data, and so is a product: `domain/` reads these models generically,
so adding a plugin with an overage meter, or an edition, is a catalog change (README "Adding a
product").
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.money import Cents, InvalidAmount, parse_amount, unit_price

CATALOG_PATH = Path(__file__).resolve().parent.parent / "catalog.json"
CATALOG_ENV = "IMBILL_CATALOG"  # another catalog file (a test catalog, a staging price list)


def _price(text: Any) -> Cents:
    if not isinstance(text, str):
        raise ValueError('an amount is a decimal string such as "399.00"')
    try:
        return parse_amount(text)
    except InvalidAmount as err:
        raise ValueError(f"not an amount with at most two places: {err}") from None


def _unit(text: str) -> str:
    try:
        unit_price(text)
    except (InvalidAmount, ValueError, ArithmeticError) as err:
        raise ValueError(f"not a decimal unit price: {err}") from None
    return text


Price = Annotated[int, BeforeValidator(_price)]  # "399.00" in the file, cents here
UnitPrice = Annotated[str, AfterValidator(_unit)]  # "0.015": any exact decimal
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Purchasable(_Spec):
    """What any product has: whether it may be bought, and for how many months (default: the
    lifecycle's min_months..max_months)."""

    purchasable: bool = True
    auto_renewable: bool = True  # renewal mode `auto` allowed (billing-rules 5, renewal management)
    min_months: Positive | None = None
    max_months: Positive | None = None


class Edition(Purchasable):
    """A base edition. `trial`: the free edition every new app starts on (exactly one, not for sale):
    it is extended after expiry (a trial extension), never renewed nor refunded, and an app that
    has paid never returns to it."""

    trial: bool = False
    monthly_price: Price
    free_mau: Count
    mau_overage_unit_price: UnitPrice | None
    limits: dict[str, Any]
    features: dict[str, bool]

    @property
    def mau_unit(self) -> Fraction | None:
        return unit_price(self.mau_overage_unit_price) if self.mau_overage_unit_price is not None else None


class Meter(_Spec):
    """An overage meter of a plugin: `included` units a period (month or local day) are in the
    plugin's price; above them every started `block` of units costs `block_price` (a bill line named
    `bill_item`). `billed_on` "usage" bills what was reported (monthly settlement); "quota" bills the
    highest daily quota in force (the daily push bill). `allowance` names the included amount in the
    app's entitlements."""

    unit: str
    period: Literal["month", "day"]
    included: Count
    block: Positive = 1
    block_price: UnitPrice
    bill_item: str
    allowance: str
    billed_on: Literal["usage", "quota"] = "usage"

    @model_validator(mode="after")
    def _quota_is_daily(self) -> Meter:
        if self.billed_on == "quota" and self.period != "day":
            raise ValueError("a meter billed on its quota is a daily meter (period 'day')")
        return self


class Plugin(Purchasable):
    monthly_price: Price
    meters: dict[str, Meter] = Field(default_factory=dict)


class Tier(_Spec):
    """An add-on tier. `starts_now`: a purchase starts now beside what runs (never a renewal);
    `once_per_app`: it may be bought once per app; `days`: one period of that many days instead of
    months; `pack_size`: what one unit of quantity holds (message packs); `list_price`: shown only.
    In the entitlements: `count_as` names the quantity of this tier in force and `units_as` that
    times `pack_size`; `ends_as` names the end of this tier's periods in force."""

    price: Price
    starts_now: bool = False
    once_per_app: bool = False
    days: Positive | None = None
    pack_size: Positive | None = None
    list_price: Price | None = None
    count_as: str | None = None
    units_as: str | None = None
    ends_as: str | None = None

    @model_validator(mode="after")
    def _units_need_a_pack(self) -> Tier:
        if self.units_as is not None and self.pack_size is None:
            raise ValueError("units_as needs a pack_size")
        return self


class Quantity(_Spec):
    """An add-on's quantity rule: `included` units are in the tier's price (the minimum and the
    default), each one above costs `extra_unit_price`; `max` caps it. `name` names the quantity in
    force in the entitlements (and `included_<name>` the included amount)."""

    name: str | None = None
    included: Positive | None = None
    extra_unit_price: Price | None = None
    max: Positive | None = None


class Addon(Purchasable):
    tiers: dict[str, Tier] = Field(min_length=1)
    quantity: Quantity = Quantity()


class Lifecycle(_Spec):
    """The rule numbers (billing-rules 5-7), read through Catalog.lifecycle."""

    renewal_grace_hours: Count
    stop_after_expiry_hours: Count
    warning_days_before: Count
    warning_days_after: Count
    arrears_stop_after_hours: Count
    reclaim_after_days: Count
    min_months: Positive
    max_months: Positive
    idempotency_ttl_hours: Positive
    settlement_days: Annotated[int, Field(ge=1, le=28)]  # month M is settled on local days 1..n of M+1


# The words a notification text may state for a rule number (any template): word -> (lifecycle key, unit).
RULE_WORDS: dict[str, tuple[str, str]] = {
    "stop_after_expiry": ("stop_after_expiry_hours", "hour"),
    "arrears_stop_after": ("arrears_stop_after_hours", "hour"),
    "reclaim_after": ("reclaim_after_days", "day"),
    "renewal_grace": ("renewal_grace_hours", "hour"),
}
_BALANCE = ("account_id", "threshold", "total", "cash", "gift")
_WEBHOOK = ("webhook_id", "url", "failing_for", "since")
# Every notification text the services send, with the facts of the moment each is given (domain/notices).
NOTICE_FACTS: dict[str, tuple[str, ...]] = {
    "warning_subject": ("sdkappid", "edition", "expires_at"),
    "warning_body": ("sdkappid", "edition", "name", "when", "expires_at", "what"),
    "warning_when_past": (),
    "warning_when_today": (),
    "warning_when_ahead": ("days",),
    "warning_stopped": (),
    "warning_enabled": (),
    "warning_auto_short": ("monthly", "balance", "short"),
    "stopped_subject": ("sdkappid", "reason"),
    "stopped_body": ("sdkappid", "name", "why"),
    "stopped_expired": ("expired_at",),
    "stopped_arrears": ("since",),
    "reclaimed_subject": ("sdkappid",),
    "reclaimed_body": ("sdkappid", "name"),
    "bill_subject": ("kind", "kind_title", "period", "total"),
    "bill_body": ("kind", "period", "total", "cash", "gift", "lines"),
    "bill_line": ("sdkappid", "item", "quantity", "amount"),
    "arrears_subject": ("account_id", "balance"),
    "arrears_body": ("balance", "stops_at"),
    "balance_low_subject": _BALANCE,
    "balance_low_body": _BALANCE,
    "webhook_disabled_subject": _WEBHOOK,
    "webhook_disabled_body": _WEBHOOK,
}


def _placeholders(template: str) -> set[str]:
    try:
        return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template)
                if name is not None}
    except ValueError as err:
        raise ValueError(f"not a template: {err}") from None


class Spec(_Spec):
    currency: str
    max_apps_per_account: Positive
    editions: dict[str, Edition]
    edition_rank: dict[str, int]
    plugins: dict[str, Plugin]
    addons: dict[str, Addon]
    lifecycle: Lifecycle
    notices: dict[str, str]

    @field_validator("notices")
    @classmethod
    def _every_notice(cls, notices: dict[str, str]) -> dict[str, str]:
        """Exactly the texts the services send, each stating only its facts and the rule words."""
        if set(notices) != set(NOTICE_FACTS):
            missing, unknown = sorted(set(NOTICE_FACTS) - set(notices)), sorted(set(notices) - set(NOTICE_FACTS))
            raise ValueError(f"the notices are {', '.join(NOTICE_FACTS)} (missing: {missing}, unknown: {unknown})")
        for name, template in notices.items():
            stray = _placeholders(template) - set(NOTICE_FACTS[name]) - set(RULE_WORDS)
            if stray:
                raise ValueError(f"{name} states what it is not given: {', '.join(sorted(stray))}")
        return notices

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        if set(self.edition_rank) != set(self.editions):
            raise ValueError("edition_rank must rank exactly the editions")
        trials = [e for e in self.editions.values() if e.trial]
        if len(trials) != 1 or trials[0].purchasable:
            raise ValueError("exactly one edition is the trial edition (trial: true), and it is not purchasable")
        names = [*self.editions, *self.plugins, *self.addons]
        if len(set(names)) != len(names):
            raise ValueError("a product name is used twice among editions, plugins and add-ons")
        items = [m.bill_item for p in self.plugins.values() for m in p.meters.values()]
        if len(set(items)) != len(items) or "mau_overage" in items:
            raise ValueError("every meter needs its own bill_item (mau_overage is the editions')")
        if sum(m.billed_on == "quota" for p in self.plugins.values() for m in p.meters.values()) > 1:
            raise ValueError("at most one meter may be billed on a daily quota")
        return self


class CatalogError(ValueError):
    """The catalog file does not describe a valid catalog (the message names the field)."""


def parse(data: dict[str, Any], source: str = "catalog") -> Spec:
    try:
        return Spec.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top)"
        raise CatalogError(f"{source}: {where}: {first['msg']}") from None


class Catalog:
    """Typed, read-only access to the catalog: products, meters, and the rule numbers."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "catalog") -> Catalog:
        return cls(parse(data, source))

    @property
    def max_apps(self) -> int:
        return self.spec.max_apps_per_account

    # ------------------------------------------------------------------ products
    def edition(self, name: str) -> Edition:
        return self.spec.editions[name]

    @property
    def editions(self) -> tuple[str, ...]:
        return tuple(self.spec.editions)

    @property
    def trial_edition(self) -> str:
        """The free edition every new app starts on (the one flagged `trial`)."""
        return next(name for name, e in self.spec.editions.items() if e.trial)

    @property
    def purchasable_editions(self) -> tuple[str, ...]:
        return tuple(name for name, e in self.spec.editions.items() if e.purchasable)

    def rank(self, edition: str) -> int:
        return self.spec.edition_rank[edition]

    def plugin(self, name: str) -> Plugin:
        return self.spec.plugins[name]

    def addon(self, name: str) -> Addon:
        return self.spec.addons[name]

    @property
    def products(self) -> tuple[str, ...]:
        return (*self.spec.editions, *self.spec.plugins, *self.spec.addons)

    def product(self, name: str) -> Edition | Plugin | Addon:
        for group in (self.spec.editions, self.spec.plugins, self.spec.addons):
            if name in group:
                return group[name]
        raise InvalidRequest(f"unknown product {name!r}")

    def monthly_price(self, product: str) -> Cents:
        """List price of one month of a base edition or a plugin (the refund's used value)."""
        spec = self.product(product)
        if isinstance(spec, Addon):
            raise InvalidRequest(f"{product} is priced by its tier and quantity, not by the month")
        return spec.monthly_price

    def months_range(self, product: str) -> tuple[int, int]:
        spec = self.product(product)
        rules = self.spec.lifecycle
        return (spec.min_months or rules.min_months, spec.max_months or rules.max_months)

    def check_purchase(self, product: str, months: int) -> None:
        """400 unless the product may be bought for that many months (the catalog's range)."""
        if not self.product(product).purchasable:
            raise InvalidRequest(f"{product!r} cannot be bought")
        lo, hi = self.months_range(product)
        if not lo <= months <= hi:
            raise InvalidRequest(f"months: a whole number from {lo} to {hi}")

    @property
    def months_bounds(self) -> tuple[int, int]:
        """The widest month range of any product (what the request schema admits at all)."""
        ranges = [self.months_range(p) for p in self.products]
        return min(lo for lo, _ in ranges), max(hi for _, hi in ranges)

    # ------------------------------------------------------------------ meters
    def meters(self, period: str | None = None) -> Iterator[tuple[str, str, Meter]]:
        """(plugin, meter name, meter) in catalog order, of one period or all."""
        for product, plugin in self.spec.plugins.items():
            for name, meter in plugin.meters.items():
                if period is None or meter.period == period:
                    yield product, name, meter

    @property
    def usage_meters(self) -> list[str]:
        """"<plugin>.<meter>" of every meter billed on reported monthly usage (POST /v1/usage/meters)."""
        return [f"{p}.{n}" for p, n, m in self.meters("month") if m.billed_on == "usage"]

    def meter(self, product: str, name: str) -> Meter:
        plugin = self.spec.plugins.get(product)
        if plugin is None or name not in plugin.meters:
            raise InvalidRequest(f"{product!r} has no meter {name!r}")
        return plugin.meters[name]

    @property
    def quota_meter(self) -> tuple[str, Meter] | None:
        """(plugin, meter) of the meter billed on a daily quota (the push plugin's API calls)."""
        return next(((p, m) for p, _, m in self.meters("day") if m.billed_on == "quota"), None)

    @property
    def quota_plugin(self) -> str:
        found = self.quota_meter
        return found[0] if found else ""

    @property
    def included_push_calls(self) -> int:
        """Daily calls the quota meter includes (above: the daily quota bill)."""
        found = self.quota_meter
        return found[1].included if found else 0

    # ------------------------------------------------------------------ rule numbers
    def lifecycle(self, key: str) -> int:
        """A rule number (hours, days, months): the one accessor for them."""
        return int(getattr(self.spec.lifecycle, key))


def load(path: Path) -> Catalog:
    return Catalog.from_dict(json.loads(path.read_text()), source=str(path))
