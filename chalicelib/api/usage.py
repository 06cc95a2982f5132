"""Usage: ingestion of logins, push and search (service, operator) and an app's usage of a month."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas as s
from chalicelib.api.http import Call, int_param, route
from chalicelib.services import usage

bp = Blueprint(__name__)

INGEST = ("service", "operator")


@route(bp, "/v1/usage/logins", "POST", summary="Report user logins (exact MAU; Developer refuses the 101st user)",
       body=s.LoginReport, answer=s.LoginResult, roles=INGEST, errors=(409, 410))
def report_logins(call: Call) -> dict[str, Any]:
    b = call.body
    return usage.report_logins(call.ctx, b.sdkappid, b.user_ids, s.instant(b.at))


@route(bp, "/v1/usage/push", "POST", summary="Report broadcast/tag push calls (refused above the day's quota) "
       "and push messages", body=s.PushReport, answer=s.PushResult, roles=INGEST, errors=(409, 410))
def report_push(call: Call) -> dict[str, Any]:
    b = call.body
    return usage.report_push(call.ctx, b.sdkappid, b.broadcast_calls, b.messages, s.instant(b.at))


@route(bp, "/v1/usage/search", "POST", summary="Report newly stored messages and search requests",
       body=s.SearchReport, answer=s.SearchResult, roles=INGEST, errors=(409, 410))
def report_search(call: Call) -> dict[str, Any]:
    b = call.body
    return usage.report_search(call.ctx, b.sdkappid, b.stored_messages, b.requests, s.instant(b.at))


@route(bp, "/v1/usage/meters", "POST", summary="Report units of any monthly usage meter of the catalog "
       "(e.g. search.requests; a new plugin's meter)", body=s.MeterReport, answer=s.MeterResult, roles=INGEST,
       errors=(409, 410))
def report_meter(call: Call) -> dict[str, Any]:
    b = call.body
    return usage.report_meter(call.ctx, b.sdkappid, b.meter, b.quantity, s.instant(b.at))


@route(bp, "/v1/apps/{sdkappid}/usage", summary="An app's MAU, push and search usage of a local month",
       answer=s.Usage, query=("month",))
def get_usage(call: Call, sdkappid: str) -> dict[str, Any]:
    return usage.get_usage(call.ctx, int_param(sdkappid), call.query("month"))
