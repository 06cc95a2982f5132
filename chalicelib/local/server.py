"""The HTTP server of ``imbill serve``: Chalice's local gateway, made to hold many clients at once
and to answer the contract's error shape for what it refuses before the app runs.

Chalice's ``chalice.local`` already runs one thread per connection, but it listens with
socketserver's default accept backlog of 5: when more clients connect at once than the accept
loop drains, the kernel's accept queue overflows and connections are reset (8 of 20 in a burst).
A backlog of ``ACCEPT_BACKLOG`` (the kernel caps it at ``net.core.somaxconn``) holds the burst
until the accept loop, which only hands each socket to a new thread, catches up. That is the
root cause and the smallest fix: a different WSGI server would still need Chalice's gateway
(routing, Lambda event and context) in front of the app, which is what this module keeps.

Chalice's gateway answers an unknown path 403 with ``{"message": ...}`` and, when the request has
an ``Authorization`` header, a message that repeats the header (the bearer token). Here an unknown
path is 404 ``not_found`` and an unsupported method on a known path 405 ``method_not_allowed``, in
``{"error": {"code", "message"}}``, and no answer repeats a header. So is what the HTTP layer
itself refuses before any route: a method no route has (TRACE, CONNECT, a made-up one) is 405 on a
known path and 404 elsewhere (http.server would answer 501 in HTML), and a header line over 64 KiB
431, a request line over 64 KiB 414, a malformed request 400 (http.server's HTML pages).

Each request is logged in one line (method, path without the query, status, milliseconds, request
id; never a header, so never the token) on the ``imbill.access`` logger.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chalice.app import Chalice
from chalice.config import Config
from chalice.constants import DEFAULT_APIGATEWAY_STAGE_NAME, DEFAULT_ENDPOINT_TYPE
from chalice.deploy.validate import validate_routes
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    ThreadedHTTPServer,
)

from chalicelib.api.http import error, new_request_id

access_log = logging.getLogger("imbill.access")
ACCEPT_BACKLOG = 1024
# What http.server refuses before a route is known, in the contract's codes.
_PROTOCOL_CODES = {400: "invalid_request", 408: "request_timeout", 414: "uri_too_long",
                   431: "request_header_fields_too_large", 505: "http_version_not_supported"}
_PROTOCOL_MESSAGES = {414: "the request line is over 65536 bytes",
                      431: "a request header is over 65536 bytes, or there are over 100 headers"}
# Methods the gateway always passes on: OPTIONS is CORS pre-flight, answered by Chalice's gateway.
_ALWAYS_ROUTED = frozenset({"OPTIONS"})


class ContractGateway(LocalGateway):
    """Chalice's local gateway with the contract's 404 and 405 in front of it."""

    def handle_request(self, method: str, path: str, headers: dict[str, Any], body: bytes | None) -> Any:
        only_path = urlsplit(path).path
        try:
            route = self.event_converter._route_matcher.match_route(path).route
        except ValueError:
            return _error_response(404, "not_found", f"no resource at {only_path}")
        methods = self._app_object.routes[route]
        if method not in methods and method not in _ALWAYS_ROUTED:
            allowed = ", ".join(sorted(methods))
            response = _error_response(405, "method_not_allowed", f"{method} is not allowed on {only_path}")
            response["headers"]["Allow"] = allowed
            return response
        return super().handle_request(method, path, headers, body)


class ContractRequestHandler(ChaliceRequestHandler):
    # TCP_NODELAY: the handler writes the headers and the body in separate sends; with Nagle's
    # algorithm the body waited for the client's delayed ACK (~40 ms on every answer)
    disable_nagle_algorithm = True

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config) -> None:
        self.local_gateway = ContractGateway(app_object, config)
        self._started = time.perf_counter()
        self._request_id = "-"
        # Skip ChaliceRequestHandler.__init__ (it would build Chalice's own gateway); its base
        # handles the request inside __init__, so the gateway must be set first.
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def __getattr__(self, name: str) -> Any:
        # http.server dispatches to do_<METHOD> and answers 501 (HTML) when there is none: every
        # method goes to the gateway instead, which answers 405 (known path) or 404 in the contract's shape
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def parse_request(self) -> bool:
        self._started = time.perf_counter()
        self._request_id = "-"
        return bool(super().parse_request())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a header too large, a bad request line) as JSON errors."""
        status = f"{code} {message}" if message else str(code)
        text = _PROTOCOL_MESSAGES.get(code, f"the request was refused: {status}")
        body = json.dumps({"error": {"code": _PROTOCOL_CODES.get(code, "invalid_request"), "message": text}}).encode()
        self.close_connection = True
        self._request_id = new_request_id()
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.send_header("X-Request-Id", self._request_id)
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    def _send_http_response(self, code: int, headers: Any, body: str | bytes | None) -> None:
        self._request_id = str(headers.get("X-Request-Id", "-"))
        super()._send_http_response(code, headers, body)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """One line per request: method, path (no query: it may carry ids, never a token either
        way), status, milliseconds, request id."""
        path = urlsplit(getattr(self, "path", "") or "").path
        ms = (time.perf_counter() - self._started) * 1000
        access_log.info("%s %s %s %.1f ms %s", getattr(self, "command", None) or "-", path or "-",
                        getattr(code, "value", code), ms, self._request_id,
                        extra={"method": getattr(self, "command", None), "path": path,
                               "status": getattr(code, "value", code), "duration_ms": round(ms, 1),
                               "request_id": self._request_id})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        access_log.debug(format, *args)


class BacklogHTTPServer(ThreadedHTTPServer):
    """One daemon thread per connection (Chalice's), listening with a backlog that holds a burst."""

    request_queue_size = ACCEPT_BACKLOG


def _error_response(status: int, code: str, message: str) -> dict[str, Any]:
    """The app's own error response (api.http.error), as the Lambda-proxy dict the gateway returns."""
    response: dict[str, Any] = error(status, code, message).to_dict()
    response["headers"]["X-Request-Id"] = new_request_id()
    return response


def create_server(
    project_dir: Path, chalice_config: dict[str, Any], stage: str, host: str, port: int
) -> LocalDevServer:
    """The local server for ``app.app`` of ``project_dir``, configured the way ``chalice local`` does."""
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    chalice_app = importlib.import_module("app").app
    validate_routes(chalice_app.routes)
    config = Config(
        chalice_stage=stage,
        user_provided_params={"chalice_app": chalice_app},
        config_from_disk=chalice_config,
        default_params={
            "project_dir": str(project_dir),
            "api_gateway_stage": DEFAULT_APIGATEWAY_STAGE_NAME,
            "api_gateway_endpoint_type": DEFAULT_ENDPOINT_TYPE,
            "autogen_policy": True,
        },
    )
    # What chalice.local.create_local_server does before it builds its server: the app keeps its
    # current request per thread.
    CustomLocalChalice.__bases__ = (LocalChalice, chalice_app.__class__)
    chalice_app.__class__ = CustomLocalChalice
    return LocalDevServer(
        chalice_app, config, host, port, handler_cls=ContractRequestHandler, server_cls=BacklogHTTPServer
    )
