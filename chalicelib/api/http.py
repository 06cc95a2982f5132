"""Route plumbing: auth, body parsing with pydantic, the contract's error format, OpenAPI registry."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ConnectionError as StoreConnectionError
from botocore.exceptions import HTTPClientError
from chalice import Blueprint, Chalice, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api.auth import principal_from_header
from chalicelib.api.schemas import ACCOUNT_ID_PATTERN, ID_PATTERN
from chalicelib.domain.calendar import local_midnight, parse_instant
from chalicelib.domain.errors import (
    BillingError,
    Busy,
    Conflict,
    Forbidden,
    Gone,
    InsufficientBalanceError,
    InvalidRequest,
    NotFound,
    Unauthorized,
)
from chalicelib.gate import MOVES, ClockMoving
from chalicelib.services import accounts
from chalicelib.services.context import SYSTEM, Contexts, Ctx, Principal
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
    csv: bool = False  # also answers text/csv (?format=csv)


ROUTES: list[RouteDoc] = []
OPERATION_IDS: dict[tuple[str, str], str] = {}  # (method, path) -> the handler's name, camelCased


@dataclass
class Call:
    """What a handler gets: the context (now, zone, caller), the parsed body, the request, and the
    composition's context factory (what a job run or a clock move started by the request acts with)."""

    ctx: Ctx
    body: Any
    request: Any
    contexts: Contexts

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

    def window(self) -> tuple[datetime | None, datetime | None]:
        """?from= and ?to= as [start, end): a local date (YYYY-MM-DD, billing zone; `to` through its
        end) or an ISO-8601 instant with a zone (`to` exclusive); absent: open. Empty or bad: 400."""
        start, end = (self._bound(name) for name in ("from", "to"))
        if start is not None and end is not None and start >= end:
            raise InvalidRequest("from must not be after to (nor the same instant)")
        return start, end

    def _bound(self, name: str) -> datetime | None:
        raw = self.query(name)
        if raw is None:
            return None
        if _DATE.fullmatch(raw):
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                raise InvalidRequest(f"{name}: {raw!r} is not a date") from None
            return local_midnight(day + timedelta(days=1) if name == "to" else day, self.ctx.tz)
        try:
            return parse_instant(raw)
        except ValueError:
            raise InvalidRequest(f"{name} must be a date YYYY-MM-DD or an ISO-8601 instant with a zone") from None

    def flag(self, name: str, choices: tuple[str, ...]) -> str:
        """A query parameter of a few words (the first the default); another value is a 400."""
        raw = self.query(name)
        if raw is None:
            return choices[0]
        if raw not in choices:
            raise InvalidRequest(f"{name} must be one of {', '.join(choices)}")
        return raw

    def idem(self, scope: str) -> Idem:
        headers = self.request.headers or {}
        key = headers.get("idempotency-key")
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            raise InvalidRequest("Idempotency-Key must be 1 to 255 visible ASCII characters (spaces inside)")
        who = f"{self.ctx.principal.role}:{self.ctx.principal.account_id or '-'}"
        dumped = self.body.model_dump() if isinstance(self.body, BaseModel) else self.body
        return Idem.of(key, f"{who}#{scope}", dumped)


def new_request_id() -> str:
    """A request id where API Gateway gave none (the local server, a test client)."""
    return uuid.uuid4().hex


def request_id(event: Any) -> str:
    """API Gateway's request id (requestContext.requestId) when deployed, else a new one."""
    return str((getattr(event, "context", None) or {}).get("requestId") or new_request_id())


# The HTTP status of each domain error (api-contract.md, Errors); a subclass answers its nearest listed class's.
STATUS: dict[type[BillingError], int] = {
    BillingError: 400,
    InvalidRequest: 400,
    Unauthorized: 401,
    InsufficientBalanceError: 402,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    Busy: 503,
}
RETRY_AFTER_S = 1  # a 503 `busy`: nothing was written, try again after a moment


def status_of(err: BillingError) -> int:
    return next(STATUS[c] for c in type(err).__mro__ if c in STATUS)


def error(status: int, code: str, message: str) -> Response:
    return Response(
        body={"error": {"code": code, "message": message}},
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


MOVE_WAIT_S = 30.0  # a write waits this long for a move of the test clock, then answers 503 busy
MAX_BODY = 1024 * 1024  # bytes: a larger body is 413 payload_too_large
MAX_DEPTH = 32  # JSON nesting: deeper is 400, refused before parsing (no recursion)
_LIMIT = re.compile(r"[0-9]{1,4}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
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
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown field (not part of this request's body)"
    if first["type"] == "value_error":
        return f"{where}: {first['ctx']['error']}"
    return f"{where}: {first['msg']}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """JSON text in UTF-8 (json.loads alone would also take UTF-16 and UTF-32), numbers exact: a
    number with a fraction or an exponent is a Decimal (never a rounded float), NaN and Infinity
    are refused. Raises ValueError."""
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant) if text.strip() else {}


def _parse_body(request: Any, model: type[BaseModel]) -> BaseModel:
    raw = request.raw_body or b""
    if too_deep(raw):
        raise InvalidRequest(f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        data = parse_json(raw)
    except (ValueError, RecursionError):
        raise InvalidRequest("the body is not valid JSON in UTF-8") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InvalidRequest(explain(err)) from None


_PATH_ID = re.compile(ID_PATTERN)
_ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)


def _check_path(params: dict[str, Any]) -> dict[str, Any]:
    """The path's values percent-decoded (the gateway passes them as sent), each checked against
    the pattern the document gives it."""
    out = {}
    for name, value in params.items():
        try:
            value = unquote(value, errors="strict") if "%" in value else value
        except UnicodeDecodeError:
            raise InvalidRequest(f"{name} is not percent-encoded UTF-8") from None
        if name == "account_id" and not _ACCOUNT_ID.fullmatch(value):
            raise InvalidRequest("account_id must be 1 to 128 letters, digits, '_', '.' or '-'")
        if name != "sdkappid" and not _PATH_ID.fullmatch(value):
            raise InvalidRequest(f"{name} must be 1 to 128 characters, no control or bidi-override characters")
        out[name] = value
    return out


def _check_query(request: Any, declared: tuple[str, ...]) -> None:
    """Every query parameter is one the route takes (the document lists them), with a value."""
    params = request.query_params or {}
    for name in params:
        if name not in declared:
            takes = f"it takes {', '.join(declared)}" if declared else "it takes none"
            raise InvalidRequest(f"{name}: unknown query parameter ({takes})")
        if not params.get(name):
            raise InvalidRequest(f"{name} is empty: give a value or leave the parameter out")


class ImbillApp(Chalice):
    """The Chalice app and its composition: `contexts()` answers the context factory its handlers act
    with (app.py gives the process's composition; nothing under api/ reaches for a global)."""

    def __init__(self, app_name: str, contexts: Callable[[], Contexts], **kwargs: Any) -> None:
        super().__init__(app_name, **kwargs)
        self.contexts = contexts


def _contexts(bp: Blueprint) -> Contexts:
    app = bp.current_app
    if not isinstance(app, ImbillApp):
        raise TypeError("the API's blueprints are registered on an ImbillApp (chalicelib/api/http.py)")
    return app.contexts()


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
    csv: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a Chalice route whose handler takes (call, **path_params) and answers a dict.

    `idempotent` routes honour (and the document advertises) Idempotency-Key: the handler passes
    `call.idem(scope)` to a service that records its first answer. `errors`: the statuses this
    route answers besides the common ones (the document lists them)."""
    ROUTES.append(RouteDoc(method, path, summary, body, answer, status, public, query, roles, idempotent, errors, csv))
    lists_under_account = method == "GET" and path.startswith("/v1/accounts/{account_id}/")
    # a write stamped by the test clock waits for a move of it (gate.MoveGate); the moves themselves do not
    stamps = method != "GET" and not path.startswith("/v1/test/")

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
                params = _check_path(params)
                _check_query(request, query)
                parsed = _parse_body(request, body) if body is not None else None
                contexts = _contexts(bp)
                with MOVES.write(MOVE_WAIT_S) if stamps and contexts.settings.test_clock else nullcontext():
                    ctx = contexts.at(contexts.clock.now(), principal, request_id=request_id(request))
                    result = fn(Call(ctx=ctx, body=parsed, request=request, contexts=contexts), **params)
                if isinstance(result, Response):  # not JSON (a CSV)
                    return result
                code, payload = result if isinstance(result, tuple) else (status, result)
                if lists_under_account and isinstance(payload, dict) and payload.get("items") == []:
                    accounts.get_account(ctx, params["account_id"])  # an unknown account is 404, not []
                return Response(body=payload, status_code=code, headers={"Content-Type": "application/json"})
            except (Busy, ClockMoving) as err:  # nothing was written: the caller may retry after a moment
                busy_err = err if isinstance(err, Busy) else Busy(str(err))
                busy = error(status_of(busy_err), busy_err.code, busy_err.message)
                busy.headers["Retry-After"] = str(RETRY_AFTER_S)
                return busy
            except BillingError as err:
                return error(status_of(err), err.code, err.message)
            except Exception as err:  # noqa: BLE001 - a bug is a 500 with a generic message, logged in full
                if store_unreachable(err):  # not a bug: the store is down or too slow to answer
                    log.warning("the store does not answer on %s %s: %s", method, path, err)
                    down = error(503, "unavailable", "the store does not answer; retry later")
                    down.headers["Retry-After"] = "5"
                    return down
                log.exception("unhandled error on %s %s", method, path)
                return error(500, "internal_error", "internal error")

        bp.route(path, methods=[method])(handler)
        return handler

    return decorate


def store_unreachable(err: BaseException) -> bool:
    """Whether `err` (or what caused it: PynamoDB wraps botocore's errors) is a connection that
    failed or timed out, not an answer."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StoreConnectionError | HTTPClientError):  # refused, connect or read timeout
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "cause", None)
    return False


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
