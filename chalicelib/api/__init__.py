"""HTTP API: Chalice blueprints over the services."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.api.http import ImbillApp


def register(app: ImbillApp) -> None:
    """The routes and the error middleware on `app`, whose `contexts()` the handlers act with."""
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
