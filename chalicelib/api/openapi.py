"""GET /v1/openapi.json: the OpenAPI 3 document, generated from the pydantic models and routes.

It says what the server does: the same patterns and bounds validate requests (schemas.py), the
Idempotency-Key header is listed exactly on the routes that honour it, and every operation lists
the error statuses it can answer, each in the `{"error": {"code", "message"}}` shape."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalice import Blueprint
from pydantic import BaseModel

from chalicelib.api import schemas as s
from chalicelib.api.http import IDEMPOTENCY_KEY, MAX_BODY, OPERATION_IDS, ROUTES, Call, RouteDoc, route
from chalicelib.api.operator import REVENUE_MAX_MONTHS
from chalicelib.jobs.runner import load_jobs
from chalicelib.services.events import TYPES as EVENT_TYPES

bp = Blueprint(__name__)

ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    402: "insufficient_balance",
    403: "forbidden",
    404: "not_found",
    409: "conflict, limit_exceeded, downgrade_not_allowed, not_in_service, idempotency_key_reused, period_closed",
    410: "gone",
    413: f"payload_too_large (a body over {MAX_BODY} bytes)",
    415: "unsupported_media_type (a body that is not application/json)",
    503: "busy (with Retry-After): an item stayed too contended to write; nothing changed; or unavailable: "
         "the store does not answer",
}
_WRITES = ("POST", "PUT", "DELETE")
_YEAR_MONTH = "(?:19[7-9][0-9]|[2-9][0-9]{3})-(?:0[1-9]|1[0-2])"
_PERIOD_DAY = s.date_pattern("(?:19[7-9][0-9]|[2-9][0-9]{3})", "[2-9]", "(?:[2468][048]|[3579][26])")
QUERY_PARAMS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "page size (default 100)"},
    "next_token": {"type": "string", "minLength": 1, "description": "the next_token of the previous page"},
    "period": {"type": "string", "pattern": f"^(?:{_YEAR_MONTH}|{_PERIOD_DAY})$",
               "description": "a local month (2026-05) or day (2026-05-10)"},
    "month": {"type": "string", "pattern": f"^{_YEAR_MONTH}$",
              "description": "a local month, e.g. 2026-05 (default: this month)"},
    "product": {"type": "string", "enum": list(s.PRODUCTS),
                "description": "the base package (default), a plugin or an add-on"},
    # operator views (chalicelib/api/operator.py); "<path>:<name>" where one name differs by route
    "/v1/accounts:status": {"type": "string", "enum": ["active", "arrears"]},
    "/v1/ops/notifications:status": {"type": "string", "enum": ["pending", "failed"]},
    "q": {"type": "string", "minLength": 1, "maxLength": 200, "description": "account id or e-mail prefix"},
    "job": {"type": "string", "enum": sorted(load_jobs()), "description": "one job (default: every job)"},
    "before": {"type": "string", "format": "date-time", "description": "ISO-8601 instant with a zone"},
    "from": {"type": "string", "pattern": f"^{_YEAR_MONTH}$", "description": "first month (default: 12 back)"},
    "to": {"type": "string", "pattern": f"^{_YEAR_MONTH}$",
           "description": f"last month (default: this month); not before `from`, at most {REVENUE_MAX_MONTHS} "
                 f"months from it (a longer range is a 400)"},
    "format": {"type": "string", "enum": ["json", "csv"], "description": "json (default) or csv (text/csv)"},
    "order": {"type": "string", "enum": ["oldest", "newest"], "description": "oldest first (default) or newest first"},
    # the packages view (chalicelib/api/renewals.py)
    "expires_after": {"type": "string", "format": "date-time", "description": "packages expiring at or after"},
    "expires_before": {"type": "string", "format": "date-time", "description": "packages expiring before"},
    "/v1/accounts/{account_id}/packages:product": {"type": "string", "enum": list(s.PRODUCTS),
                                                   "description": "only this product"},
    "region": {"type": "string", "minLength": 1, "maxLength": 64, "description": "only apps of this region"},
    "renewal": {"type": "string", "enum": ["auto", "manual", "none"], "description": "only this renewal mode"},
    # events and the audit log (chalicelib/api/events.py)
    "account_id": {"type": "string", "pattern": s.ACCOUNT_ID_PATTERN, "description": "one account's events"},
    "type": {"type": "string", "enum": list(EVENT_TYPES), "description": "one event type"},
    "sdkappid": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999, "description": "one app's events"},
    "actor": {"type": "string", "minLength": 1, "maxLength": 128,
              "description": "the sub of the caller (an operator's name, an account id) or a job's name"},
    **{f"{path}:{name}": {"type": "string", "format": "date-time",
                          "description": "ISO-8601 instant: " + ("from (default: 30 days before `to`)"
                                                                 if name == "from" else "to (default: now)")}
       for path in ("/v1/events", "/v1/ops/audit") for name in ("from", "to")},
}
_WINDOW = {"type": "string", "pattern": f"^(?:{s.INSTANT_DATE}|{s.INSTANT_PATTERN[1:-1]})$",
           "description": "a local date YYYY-MM-DD (billing zone) or an ISO-8601 instant with a zone"}
for _listed in ("/v1/accounts/{account_id}/ledger", "/v1/accounts/{account_id}/bills"):
    QUERY_PARAMS[f"{_listed}:from"] = {**_WINDOW, "description": f"from (inclusive): {_WINDOW['description']}"}
    QUERY_PARAMS[f"{_listed}:to"] = {**_WINDOW, "description": "to: a local date (through its end) or an instant "
                                     "(exclusive)"}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Optional. A retry with the same key and body answers the first response without acting "
    "again; the same key with another body is 409 idempotency_key_reused. Keys are kept at least 24 h. "
    "An empty key (or one outside this pattern) is a 400.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": f"^{IDEMPOTENCY_KEY.pattern}$"},
}


def _non_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """An empty query value is a 400 naming it (http._check_query): a string parameter says minLength 1."""
    if schema.get("type") == "string" and "minLength" not in schema:
        return {**schema, "minLength": 1}
    return schema


def _schema(model: type[BaseModel], components: dict[str, Any], mode: str = "serialization") -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)  # type: ignore[arg-type]
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _path_param(name: str) -> dict[str, Any]:
    if name == "sdkappid":
        schema: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 999_999_999_999}
    elif name == "month":  # a statement's month: the years an instant may have
        schema = {"type": "string", "pattern": "^(?:19[7-9][0-9]|[2-8][0-9]{3})-(?:0[1-9]|1[0-2])$"}
    elif name == "job":
        schema = {"type": "string", "enum": sorted(load_jobs())}
    else:  # account ids as accounts are created (other ids are 404, or 400 when not 1-128 printable characters)
        schema = {"type": "string", "pattern": s.ACCOUNT_ID_PATTERN, "minLength": 1, "maxLength": 128}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def error_statuses(r: RouteDoc) -> list[int]:
    """What the route can answer besides success: every route 400/404/413/415, authenticated ones
    401/403, writes 503, plus the route's own (402, 409, 410)."""
    codes = {400, 404, 413, 415, *r.errors}
    if not r.public:
        codes |= {401, 403}
    if r.method in _WRITES:
        codes.add(503)
    if r.idempotent:
        codes.add(409)
    return sorted(codes)


def _operation(r: RouteDoc, components: dict[str, Any], error_ref: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": r.summary, "operationId": OPERATION_IDS[(r.method, r.path)], "responses": {}}
    params = [_path_param(p.strip("{}")) for p in r.path.split("/") if p.startswith("{")]
    params += [{"name": q, "in": "query", "required": False,
                "schema": _non_empty(QUERY_PARAMS.get(f"{r.path}:{q}") or QUERY_PARAMS[q])} for q in r.query]
    if r.idempotent:
        params.append(IDEMPOTENCY_HEADER)
    if params:
        op["parameters"] = params
    if r.body is not None:
        required = any(f.is_required() for f in r.body.model_fields.values())
        body = {"application/json": {"schema": _schema(r.body, components, "validation")}}
        op["requestBody"] = {"required": required, "content": body}
    ok: dict[str, Any] = {"description": "OK"}
    if r.answer is not None:
        ok["content"] = {"application/json": {"schema": _schema(r.answer, components)}}
        if r.csv:
            ok["content"]["text/csv"] = {"schema": {"type": "string"}}
    op["responses"][str(r.status)] = ok
    for code in error_statuses(r):
        op["responses"][str(code)] = {
            "description": ERROR_CODES[code],
            "content": {"application/json": {"schema": error_ref}},
        }
    if not r.public:
        op["security"] = [{"bearer": []}]
        op["x-roles"] = list(r.roles)
    return op


def event_webhooks(components: dict[str, Any]) -> dict[str, Any]:
    """Every event type, as a webhook delivery: the Event whose `type` is it and whose `data` has
    the type's schema (the same Event the events API lists and EventBridge carries)."""
    from chalicelib.api.events import Event, event_types

    event_ref = _schema(Event, components)
    out: dict[str, Any] = {}
    for kind, model in event_types().items():
        body = {"allOf": [event_ref, {"type": "object", "required": ["type", "data"], "properties": {
            "type": {"const": kind}, "data": _schema(model, components)}}]}
        out[kind] = {"post": {
            "summary": f"{kind} (data: {model.__name__})",
            "description": "Delivered with Imbill-Event-Id, Imbill-Event-Type and Imbill-Signature "
                           "(t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>, one v1 per valid secret)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"2XX": {"description": "delivered (within 10 s); anything else is retried"}},
        }}
    return out


TEST_CLOCK_PATHS = "/v1/test/"  # served only where IMBILL_TEST_CLOCK=1 (elsewhere 404): listed only there


@lru_cache(maxsize=2)
def document(test_clock: bool = True) -> dict[str, Any]:
    """The document of a service whose test clock is on or off (its routes listed only when on)."""
    components: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    error_ref = _schema(s.Error, components)
    for r in ROUTES:
        if not test_clock and r.path.startswith(TEST_CLOCK_PATHS):
            continue
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r, components, error_ref)
    return {
        "openapi": "3.1.0",
        "info": {"title": "imbill", "version": "1", "description": "Billing backend of a cloud IM service"},
        "paths": paths,
        "webhooks": event_webhooks(components),
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


@route(bp, "/v1/openapi.json", summary="This document", public=True)
def get_openapi_document(call: Call) -> dict[str, Any]:
    return document(call.ctx.settings.test_clock)
