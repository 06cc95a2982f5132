"""The catalog (chalicelib/catalog.json) as typed, read-only accessors. A price is data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.domain.money import Cents, parse_amount, unit_price

CATALOG_PATH = Path(__file__).resolve().parent.parent / "catalog.json"
EDITIONS = ("developer", "standard", "pro")
PAID_EDITIONS = ("standard", "pro")


@dataclass(frozen=True)
class Edition:
    name: str
    purchasable: bool
    monthly_price: Cents
    free_mau: int
    mau_overage_unit_price: Fraction | None
    limits: dict[str, Any]
    features: dict[str, bool]


@dataclass(frozen=True)
class Catalog:
    raw: dict[str, Any]

    @property
    def max_apps(self) -> int:
        return int(self.raw["max_apps_per_account"])

    def edition(self, name: str) -> Edition:
        e = self.raw["editions"][name]
        unit = e["mau_overage_unit_price"]
        return Edition(
            name=name,
            purchasable=bool(e["purchasable"]),
            monthly_price=parse_amount(e["monthly_price"]),
            free_mau=int(e["free_mau"]),
            mau_overage_unit_price=unit_price(unit) if unit is not None else None,
            limits=dict(e["limits"]),
            features=dict(e["features"]),
        )

    def rank(self, edition: str) -> int:
        return int(self.raw["edition_rank"][edition])

    def lifecycle(self, key: str) -> int:
        return int(self.raw["lifecycle"][key])

    def plugin(self, name: str) -> dict[str, Any]:
        return dict(self.raw["plugins"][name])

    @property
    def included_push_calls(self) -> int:
        """Broadcast/tag push API calls a day the push plugin includes (above: the daily quota bill)."""
        return int(self.raw["plugins"]["push"]["included_daily_broadcast_calls"])

    def addon(self, name: str) -> dict[str, Any]:
        return dict(self.raw["addons"][name])

    def monthly_price(self, product: str) -> Cents:
        """List price of one month of a base edition or a plugin (the refund's used value)."""
        if product in self.raw["editions"]:
            return self.edition(product).monthly_price
        return parse_amount(self.raw["plugins"][product]["monthly_price"])


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    return Catalog(json.loads(CATALOG_PATH.read_text()))
