"""Route plumbing: auth, body parsing with pydantic, the contract's error format, OpenAPI registry."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib import bootstrap
from chalicelib.api.auth import principal_from_header
from chalicelib.api.schemas import ID_PATTERN
from chalicelib.domain.errors import BillingError, Busy, InvalidRequest, NotFound
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
    idempotent: bool  # takes an Idempotency-Key (creates something or moves money)
    errors: tuple[int, ...]  # statuses besides those of every route (openapi.COMMON_ERRORS)


ROUTES: list[RouteDoc] = []
OPERATION_IDS: dict[tuple[str, str], str] = {}  # (method, path) -> the handler's name, camelCased


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
        if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= 1000:
            raise InvalidRequest("limit must be an integer from 1 to 1000")
        return int(raw)

    def idem(self, scope: str) -> Idem:
        headers = self.request.headers or {}
        key = headers.get("idempotency-key")
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            raise InvalidRequest("Idempotency-Key must be 1 to 255 visible ASCII characters (spaces inside)")
        who = f"{self.ctx.principal.role}:{self.ctx.principal.account_id or '-'}"
        dumped = self.body.model_dump() if isinstance(self.body, BaseModel) else self.body
        return Idem.of(key, f"{who}#{scope}", dumped)


def error(status: int, code: str, message: str) -> Response:
    return Response(
        body={"error": {"code": code, "message": message}},
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


MAX_BODY = 1024 * 1024  # bytes: a larger body is 413 payload_too_large
MAX_DEPTH = 32  # JSON nesting: deeper is 400, refused before parsing (no recursion)
_LIMIT = re.compile(r"[0-9]{1,4}")
IDEMPOTENCY_KEY = re.compile(r"[!-~](?:[ -~]{0,253}[!-~])?")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects deeper than `limit` (strings skipped; no parsing)."""
    depth = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub(b"", raw)):
        depth += 1 if bracket in b"[{" else -1
        if depth > limit:
            return True
    return False


def explain(err: ValidationError) -> str:
    """The first problem, named by its field path in the contract's words (no pydantic internals)."""
    first = err.errors()[0]
    where = ".".join(str(x) for x in first["loc"]) or "body"
    if first["type"] == "missing":
        return f"{where} is required"
    if first["type"] == "value_error":
        return f"{where}: {first['ctx']['error']}"
    return f"{where}: {first['msg']}"


def _parse_body(request: Any, model: type[BaseModel]) -> BaseModel:
    raw = request.raw_body or b""
    if too_deep(raw):
        raise InvalidRequest(f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InvalidRequest(explain(err)) from None


_PATH_ID = re.compile(ID_PATTERN)


def _check_path(params: dict[str, Any]) -> None:
    for name, value in params.items():
        if name != "sdkappid" and not _PATH_ID.fullmatch(value):
            raise InvalidRequest(f"{name} must be 1 to 128 characters, no control or bidi-override characters")


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
    idempotent: bool = False,
    errors: tuple[int, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a Chalice route whose handler takes (call, **path_params) and answers a dict.

    `idempotent` routes honour (and the document advertises) Idempotency-Key: the handler passes
    `call.idem(scope)` to a service that records its first answer. `errors`: the statuses this
    route answers besides the common ones (the document lists them)."""
    ROUTES.append(RouteDoc(method, path, summary, body, answer, status, public, query, roles, idempotent, errors))

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        head, *rest = fn.__name__.split("_")
        operation_id = head + "".join(w.capitalize() for w in rest)
        if operation_id in OPERATION_IDS.values() and OPERATION_IDS.get((method, path)) != operation_id:
            raise ValueError(f"operationId {operation_id} is already taken: rename the handler {fn.__name__}")
        OPERATION_IDS[(method, path)] = operation_id
        @wraps(fn)
        def handler(**params: Any) -> Response:
            request = bp.current_request
            try:
                principal = SYSTEM if public else _principal(request)
                principal.require(*roles)
                _check_path(params)
                parsed = _parse_body(request, body) if body is not None else None
                ctx = bootstrap.current().ctx(principal, request_id(request, bp))
                result = fn(Call(ctx=ctx, body=parsed, request=request), **params)
                code, payload = result if isinstance(result, tuple) else (status, result)
                return Response(body=payload, status_code=code, headers={"Content-Type": "application/json"})
            except Busy as err:  # nothing was written: the caller may retry after a moment
                busy = error(err.status, err.code, err.message)
                busy.headers["Retry-After"] = str(err.retry_after)
                return busy
            except BillingError as err:
                return error(err.status, err.code, err.message)
            except Exception:  # noqa: BLE001 - a bug is a 500 with a generic message, logged in full
                log.exception("unhandled error on %s %s", method, path)
                return error(500, "internal_error", "internal error")

        bp.route(path, methods=[method])(handler)
        return handler

    return decorate


def request_id(request: Any, bp: Blueprint) -> str:
    """The request's id, carried by its events: API Gateway's, else the Lambda invocation's (the
    local gateway makes one per request), else a new one."""
    context = getattr(request, "context", None) or {}
    value = context.get("requestId")
    if not value:
        try:
            value = getattr(bp.lambda_context, "aws_request_id", None)
        except RuntimeError:  # no Lambda context (a direct call)
            value = None
    return str(value) if value else uuid.uuid4().hex


def _principal(request: Any) -> Principal:
    headers = request.headers or {}
    return principal_from_header(headers.get("authorization"))


_SDKAPPID = re.compile(r"[0-9]{1,12}")


def int_param(value: str, name: str = "sdkappid") -> int:
    if not _SDKAPPID.fullmatch(value):
        raise NotFound(f"{name} {value!r} not found")
    return int(value)


# Chalice's own refusals (before any route runs) in the contract's error shape.
_CHALICE_CODES = {405: "method_not_allowed", 415: "unsupported_media_type", 400: "invalid_request"}
_CHALICE_MESSAGES = {
    405: "this method is not allowed on this path",
    415: "the body must be JSON (Content-Type: application/json)",
}


def error_shape(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: a body over 1 MiB is 413; every error Chalice itself answers (405, 415,
    an unhandled exception) comes in the contract's `{"error": {"code", "message"}}` shape."""
    raw = request.raw_body if request is not None else None
    if raw and len(raw) > MAX_BODY:
        return error(413, "payload_too_large", f"the body is larger than {MAX_BODY} bytes (1 MiB)")
    try:
        response = get_response(request)
    except Exception:  # noqa: BLE001 - logged in full, answered generically
        log.exception("unhandled error")
        return error(500, "internal_error", "internal error")
    body = response.body
    if isinstance(body, dict) and "Code" in body and "error" not in body:
        status = response.status_code
        code = _CHALICE_CODES.get(status, "internal_error" if status >= 500 else "invalid_request")
        message = _CHALICE_MESSAGES.get(status, "internal error" if status >= 500 else str(body.get("Message", "")))
        shaped = error(status, code, message)
        shaped.headers = {**(response.headers or {}), **shaped.headers}
        return shaped
    return response
