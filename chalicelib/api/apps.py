"""Apps: read, delete, purchases, orders, auto-renew, Developer extension, refunds, entitlements."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import shapes
from chalicelib.api import schemas as s
from chalicelib.api.http import Call, int_param, route
from chalicelib.services import apps, entitlements, lifecycle, purchases
from chalicelib.services.idempotency import Response
from chalicelib.services.purchases import Bought, Quote, Refunded
from chalicelib.store.dynamodb.models import AppModel

bp = Blueprint(__name__)


def app_created(a: AppModel) -> Response:
    return 201, shapes.app(a)


def app_changed(a: AppModel) -> Response:
    return 200, shapes.app(a)


def bought(b: Bought) -> Response:
    return 201, shapes.purchase(b.order, b.app, b.account, b.credit, b.at)


def purchase_quoted(b: Bought) -> dict[str, Any]:
    return shapes.purchase_quote(b.order, b.account, b.credit, b.at)


def quoted(q: Quote) -> dict[str, Any]:
    return shapes.refund_quote(q.product, q.at, q.refund)


def refunded(r: Refunded) -> Response:
    balance = shapes.balance(int(r.account.cash), int(r.account.gift))
    return 201, {"refund": quoted(r.quote), "app": shapes.app(r.app), "balance": balance}


@route(bp, "/v1/apps/{sdkappid}", summary="Read an app", answer=s.App)
def get_app(call: Call, sdkappid: str) -> dict[str, Any]:
    return shapes.app(apps.get_app(call.ctx, int_param(sdkappid)))


@route(bp, "/v1/apps/{sdkappid}", "DELETE", summary="Reclaim a disabled or stopped app at once", answer=s.App,
       errors=(409, 410))
def delete_app(call: Call, sdkappid: str) -> dict[str, Any]:
    return shapes.app(lifecycle.delete_app(call.ctx, int_param(sdkappid)))


@route(bp, "/v1/apps/{sdkappid}/purchases", "POST", summary="Buy, renew, upgrade or reactivate a base package",
       body=s.PurchaseCreate, answer=s.PurchaseResult, status=201, idempotent=True, errors=(402, 409, 410))
def purchase_edition(call: Call, sdkappid: str) -> tuple[int, dict[str, Any]]:
    b = call.body
    app_id = int_param(sdkappid)
    return purchases.purchase(
        call.ctx, app_id, b.edition, b.months, b.auto_renew, b.voucher_id, call.idem(f"purchase:{app_id}"), bought
    )


@route(bp, "/v1/apps/{sdkappid}/purchases/quote", "POST",
       summary="What a purchase would charge now: price, voucher, cash, gift, period, upgrade credit, amount due, "
       "balance after (no side effect)", body=s.PurchaseCreate, answer=s.PurchaseQuote, errors=(402, 409, 410))
def quote_purchase(call: Call, sdkappid: str) -> dict[str, Any]:
    b = call.body
    return purchase_quoted(purchases.purchase_quote(call.ctx, int_param(sdkappid), b.edition, b.months,
                                                    b.auto_renew, b.voucher_id))


@route(bp, "/v1/apps/{sdkappid}/orders", summary="The app's orders", answer=s.page_of(s.Order),
       query=("limit", "next_token"))
def list_orders(call: Call, sdkappid: str) -> dict[str, Any]:
    page = purchases.list_orders(call.ctx, int_param(sdkappid), call.limit(), call.query("next_token"))
    return {"items": [shapes.order(o, call.ctx.now) for o in page.items], "next_token": page.next_token}


@route(bp, "/v1/apps/{sdkappid}/auto-renew", "PUT", summary="Turn monthly auto-renew on or off",
       body=s.AutoRenewSet, answer=s.App, errors=(409, 410))
def set_auto_renew(call: Call, sdkappid: str) -> dict[str, Any]:
    return apps.set_auto_renew(call.ctx, int_param(sdkappid), call.body.enabled, app_changed)[1]


@route(bp, "/v1/apps/{sdkappid}/disable", "POST", summary="Disable an enabled app (its packages run out)",
       answer=s.App, errors=(409, 410))
def disable_app(call: Call, sdkappid: str) -> dict[str, Any]:
    return apps.disable(call.ctx, int_param(sdkappid), app_changed)[1]


@route(bp, "/v1/apps/{sdkappid}/enable", "POST", summary="Enable a disabled app while its package is valid",
       answer=s.App, errors=(409, 410))
def enable_app(call: Call, sdkappid: str) -> dict[str, Any]:
    return apps.enable(call.ctx, int_param(sdkappid), app_changed)[1]


@route(bp, "/v1/apps/{sdkappid}/trial-extensions", "POST", summary="Extend an expired Developer app",
       answer=s.App, idempotent=True, errors=(409, 410))
def extend_trial(call: Call, sdkappid: str) -> dict[str, Any]:
    app_id = int_param(sdkappid)
    return apps.extend_trial(call.ctx, app_id, call.idem(f"trial-extension:{app_id}"), app_changed)[1]


@route(bp, "/v1/apps/{sdkappid}/refund-quote", summary="What a refund would give now (no side effect)",
       answer=s.RefundQuote, query=("product",), errors=(409, 410))
def get_refund_quote(call: Call, sdkappid: str) -> dict[str, Any]:
    return quoted(purchases.refund_quote(call.ctx, int_param(sdkappid), call.query("product")))


@route(bp, "/v1/apps/{sdkappid}/refunds", "POST", summary="Refund the base package or one plugin/add-on",
       body=s.RefundCreate, answer=s.RefundResult, status=201, idempotent=True, errors=(409, 410))
def refund_package(call: Call, sdkappid: str) -> tuple[int, dict[str, Any]]:
    app_id = int_param(sdkappid)
    return purchases.refund(call.ctx, app_id, call.body.product, call.idem(f"refund:{app_id}"), refunded)


@route(bp, "/v1/apps/{sdkappid}/entitlements", summary="Edition limits, features and in_service",
       answer=s.Entitlements, roles=("operator", "customer", "service"))
def get_entitlements(call: Call, sdkappid: str) -> dict[str, Any]:
    return entitlements.entitlements(call.ctx, int_param(sdkappid))
