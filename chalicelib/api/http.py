"""Route plumbing: auth, body parsing with pydantic, the contract's error format, OpenAPI registry."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any
from zoneinfo import ZoneInfo

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api.auth import principal_from_header
from chalicelib.clock import Clock, service_clock
from chalicelib.config import settings
from chalicelib.domain.errors import BillingError, InvalidRequest, NotFound
from chalicelib.services.context import SYSTEM, Ctx, Principal
from chalicelib.services.idempotency import Idem

log = logging.getLogger("imbill.api")


@dataclass(frozen=True)
class RouteDoc:
    method: str
    path: str
    summary: str
    body: type[BaseModel] | None
    answer: type[BaseModel] | None
    status: int
    public: bool
    query: tuple[str, ...]
    roles: tuple[str, ...]


ROUTES: list[RouteDoc] = []
OPERATION_IDS: dict[tuple[str, str], str] = {}  # (method, path) -> the handler's name, camelCased


@lru_cache(maxsize=1)
def clock() -> Clock:
    return service_clock(settings().test_clock)


def reset_clock() -> None:
    clock.cache_clear()


@lru_cache(maxsize=1)
def billing_zone() -> ZoneInfo:
    return ZoneInfo(settings().timezone)


@dataclass
class Call:
    """What a handler gets: the context (now, zone, caller), the parsed body, the request."""

    ctx: Ctx
    body: Any
    request: Any

    def query(self, name: str) -> str | None:
        params = self.request.query_params or {}
        return params.get(name)

    def limit(self) -> int:
        raw = self.query("limit")
        if raw is None:
            return 100
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise InvalidRequest("limit must be an integer from 1 to 1000")
        return int(raw)

    def idem(self, scope: str) -> Idem:
        headers = self.request.headers or {}
        key = headers.get("idempotency-key")
        who = f"{self.ctx.principal.role}:{self.ctx.principal.account_id or '-'}"
        dumped = self.body.model_dump() if isinstance(self.body, BaseModel) else self.body
        return Idem.of(key, f"{who}#{scope}", dumped)


def error(status: int, code: str, message: str) -> Response:
    return Response(
        body={"error": {"code": code, "message": message}},
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


def _parse_body(request: Any, model: type[BaseModel]) -> BaseModel:
    raw = request.raw_body or b""
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "body"
        raise InvalidRequest(f"{where}: {first['msg']}") from None


def route(
    bp: Blueprint,
    path: str,
    method: str = "GET",
    *,
    summary: str = "",
    body: type[BaseModel] | None = None,
    answer: type[BaseModel] | None = None,
    status: int = 200,
    public: bool = False,
    query: tuple[str, ...] = (),
    roles: tuple[str, ...] = ("operator", "customer"),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a Chalice route whose handler takes (call, **path_params) and answers a dict."""
    ROUTES.append(RouteDoc(method, path, summary, body, answer, status, public, query, roles))

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        head, *rest = fn.__name__.split("_")
        OPERATION_IDS[(method, path)] = head + "".join(w.capitalize() for w in rest)
        @wraps(fn)
        def handler(**params: Any) -> Response:
            request = bp.current_request
            try:
                principal = SYSTEM if public else _principal(request)
                principal.require(*roles)
                parsed = _parse_body(request, body) if body is not None else None
                ctx = Ctx(now=clock().now(), tz=billing_zone(), principal=principal)
                result = fn(Call(ctx=ctx, body=parsed, request=request), **params)
                code, payload = result if isinstance(result, tuple) else (status, result)
                return Response(body=payload, status_code=code, headers={"Content-Type": "application/json"})
            except BillingError as err:
                return error(err.status, err.code, err.message)
            except Exception:  # noqa: BLE001 - a bug is a 500 with a generic message, logged in full
                log.exception("unhandled error on %s %s", method, path)
                return error(500, "internal_error", "internal error")

        bp.route(path, methods=[method])(handler)
        return handler

    return decorate


def _principal(request: Any) -> Principal:
    headers = request.headers or {}
    return principal_from_header(headers.get("authorization"))


def int_param(value: str, name: str = "sdkappid") -> int:
    if not value.isdigit() or len(value) > 12:
        raise NotFound(f"{name} {value!r} not found")
    return int(value)
