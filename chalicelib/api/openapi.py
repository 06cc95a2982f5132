"""GET /v1/openapi.json: the OpenAPI 3 document, generated from the pydantic models and routes."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalice import Blueprint
from pydantic import BaseModel

from chalicelib.api import schemas as s
from chalicelib.api.http import ROUTES, Call, route

bp = Blueprint(__name__)

_ERRORS = {
    "400": "invalid_request",
    "401": "unauthorized",
    "402": "insufficient_balance",
    "403": "forbidden",
    "404": "not_found",
    "409": "conflict, limit_exceeded, downgrade_not_allowed, not_in_service, idempotency_key_reused, period_closed",
    "410": "gone",
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    error_ref = _schema(s.Error, components)
    for r in ROUTES:
        op: dict[str, Any] = {"summary": r.summary, "operationId": f"{r.method.lower()}{r.path}", "responses": {}}
        params = [
            {"name": p.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
            for p in r.path.split("/")
            if p.startswith("{")
        ]
        params += [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in r.query]
        if r.method in ("POST", "PUT"):
            params.append({"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}})
        if params:
            op["parameters"] = params
        if r.body is not None:
            body = {"application/json": {"schema": _schema(r.body, components)}}
            op["requestBody"] = {"required": True, "content": body}
        ok: dict[str, Any] = {"description": "OK"}
        if r.answer is not None:
            ok["content"] = {"application/json": {"schema": _schema(r.answer, components)}}
        op["responses"][str(r.status)] = ok
        for code, text in _ERRORS.items():
            op["responses"][code] = {"description": text, "content": {"application/json": {"schema": error_ref}}}
        if not r.public:
            op["security"] = [{"bearer": []}]
            op["x-roles"] = list(r.roles)
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "imbill", "version": "1", "description": "Billing backend of a cloud IM service"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


@route(bp, "/v1/openapi.json", summary="This document", public=True)
def openapi(call: Call) -> dict[str, Any]:
    return document()
