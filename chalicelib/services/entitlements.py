"""What an app may do now: edition limits and features from the catalog, in_service, MAU use, and the
plugins and add-ons in force with their allowances."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.calendar import month_key
from chalicelib.services import plugins, usage
from chalicelib.services.apps import load_app, state
from chalicelib.services.context import Ctx


def entitlements(ctx: Ctx, sdkappid: int, mau_used: int = 0) -> dict[str, Any]:
    app = load_app(ctx, sdkappid, consistent=False)
    edition = ctx.catalog.edition(app.edition)
    plugins_now, addons_now = plugins.in_force(ctx, app)
    return {
        "sdkappid": int(app.sdkappid),
        "edition": app.edition,
        "status": app.status,
        "in_service": state(app).in_service,
        "expires_at": app.expires_at.isoformat().replace("+00:00", "Z"),
        "limits": edition.limits,
        "features": edition.features,
        "mau": {
            "month": month_key(ctx.now, ctx.tz),
            "used": usage.mau_of(ctx, int(app.sdkappid), month_key(ctx.now, ctx.tz)),
            "free": edition.free_mau,
            "overage_allowed": edition.mau_overage_unit_price is not None,
        },
        "plugins": plugins_now,
        "addons": addons_now,
    }
