"""The catalog in force, as the console and clients read it: what can be bought, for how many months,
at what price, and the meters each plugin bills (one place, so a new product needs no client change)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas as s
from chalicelib.api.http import Call, route
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.money import fmt

bp = Blueprint(__name__)


def catalog_view(c: Catalog) -> dict[str, Any]:
    spec = c.spec
    return {
        "currency": spec.currency,
        "editions": {name: {"monthly_price": fmt(e.monthly_price), "purchasable": e.purchasable,
                            "trial": e.trial, "months": list(c.months_range(name))}
                     for name, e in spec.editions.items()},
        "plugins": {name: {"monthly_price": fmt(p.monthly_price), "purchasable": p.purchasable,
                           "months": list(c.months_range(name)),
                           "meters": {m: meter.model_dump() for m, meter in p.meters.items()}}
                    for name, p in spec.plugins.items()},
        "addons": {name: {"purchasable": a.purchasable, "months": list(c.months_range(name)),
                          "tiers": {t: {"price": fmt(tier.price)} for t, tier in a.tiers.items()}}
                   for name, a in spec.addons.items()},
    }


@route(bp, "/v1/catalog", summary="The products of the catalog in force: prices, month ranges, tiers, meters",
       answer=s.CatalogView, roles=("operator", "customer", "service"))
def get_catalog(call: Call) -> dict[str, Any]:
    return catalog_view(call.ctx.catalog)
