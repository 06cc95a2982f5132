"""Plugins (push, search), the push quota, and add-ons (desk, chatbot, call)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas as s
from chalicelib.api.apps import bought, purchase_quoted
from chalicelib.api.http import Call, int_param, route
from chalicelib.services import plugins
from chalicelib.services.idempotency import Response

bp = Blueprint(__name__)


@route(bp, "/v1/apps/{sdkappid}/plugins", "POST", summary="Buy or renew a plugin (push, search)",
       body=s.PluginCreate, answer=s.PurchaseResult, status=201, idempotent=True, errors=(402, 409, 410))
def buy_plugin(call: Call, sdkappid: str) -> tuple[int, dict[str, Any]]:
    app_id = int_param(sdkappid)
    b = call.body
    return plugins.buy_plugin(call.ctx, app_id, b.plugin, b.months, call.idem(f"plugin:{app_id}"), bought)


@route(bp, "/v1/apps/{sdkappid}/plugins/quote", "POST", summary="What a plugin purchase would charge now "
       "(no side effect)", body=s.PluginCreate, answer=s.PurchaseQuote, errors=(402, 409, 410))
def quote_plugin(call: Call, sdkappid: str) -> dict[str, Any]:
    b = call.body
    return purchase_quoted(plugins.plugin_quote(call.ctx, int_param(sdkappid), b.plugin, b.months))


@route(bp, "/v1/apps/{sdkappid}/plugins/push/quota", "PUT", summary="Set the daily broadcast-call quota (>= 100)",
       body=s.PushQuotaSet, answer=s.PushQuota, errors=(409, 410))
def set_push_quota(call: Call, sdkappid: str) -> dict[str, Any]:
    calls = call.body.daily_broadcast_calls
    return plugins.set_push_quota(call.ctx, int_param(sdkappid), calls, lambda app: quota_set(calls))[1]


def quota_set(daily_broadcast_calls: int) -> Response:
    return 200, {"daily_broadcast_calls": daily_broadcast_calls}


@route(bp, "/v1/apps/{sdkappid}/addons", "POST", summary="Buy or renew an add-on (desk, chatbot, call)",
       body=s.AddonCreate, answer=s.PurchaseResult, status=201, idempotent=True, errors=(402, 409, 410))
def buy_addon(call: Call, sdkappid: str) -> tuple[int, dict[str, Any]]:
    app_id = int_param(sdkappid)
    b = call.body
    return plugins.buy_addon(call.ctx, app_id, b.addon, b.tier, b.quantity, b.months, call.idem(f"addon:{app_id}"),
                             bought)


@route(bp, "/v1/apps/{sdkappid}/addons/quote", "POST", summary="What an add-on purchase would charge now "
       "(no side effect)", body=s.AddonCreate, answer=s.PurchaseQuote, errors=(402, 409, 410))
def quote_addon(call: Call, sdkappid: str) -> dict[str, Any]:
    b = call.body
    return purchase_quoted(plugins.addon_quote(call.ctx, int_param(sdkappid), b.addon, b.tier, b.quantity, b.months))
