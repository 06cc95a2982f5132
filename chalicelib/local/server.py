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
``{"error": {"code", "message"}}``, and no answer repeats a header.
"""

from __future__ import annotations

import importlib
import sys
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

from chalicelib.api.http import error

ACCEPT_BACKLOG = 1024
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
        # Skip ChaliceRequestHandler.__init__ (it would build Chalice's own gateway); its base
        # handles the request inside __init__, so the gateway must be set first.
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)


class BacklogHTTPServer(ThreadedHTTPServer):
    """One daemon thread per connection (Chalice's), listening with a backlog that holds a burst."""

    request_queue_size = ACCEPT_BACKLOG


def _error_response(status: int, code: str, message: str) -> dict[str, Any]:
    """The app's own error response (api.http.error), as the Lambda-proxy dict the gateway returns."""
    response: dict[str, Any] = error(status, code, message).to_dict()
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
