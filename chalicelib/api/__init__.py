"""HTTP API: Chalice blueprints over the services."""

from __future__ import annotations

from chalice import Chalice


def register(app: Chalice) -> None:
    from chalicelib.api import (
        accounts,
        apps,
        catalog,
        events,
        http,
        openapi,
        operator,
        ops,
        plugins,
        renewals,
        service,
        usage,
        webhooks,
    )

    app.register_middleware(http.error_shape, "http")
    for module in (accounts, apps, ops, openapi, usage, plugins, operator, catalog, service, renewals, events,
                   webhooks):
        app.register_blueprint(module.bp)
    from chalicelib import console

    app.register_blueprint(console.bp)
