"""What an app may do now: edition limits and features from the catalog, in_service, MAU use."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.calendar import month_key
from chalicelib.services.apps import load_app
from chalicelib.services.context import Ctx


def entitlements(ctx: Ctx, sdkappid: int, mau_used: int = 0) -> dict[str, Any]:
    app = load_app(ctx, sdkappid, consistent=False)
    edition = ctx.catalog.edition(app.edition)
    return {
        "sdkappid": int(app.sdkappid),
        "edition": app.edition,
        "status": app.status,
        "in_service": app.status == "enabled",
        "expires_at": app.expires_at.isoformat().replace("+00:00", "Z"),
        "limits": edition.limits,
        "features": edition.features,
        "mau": {
            "month": month_key(ctx.now, ctx.tz),
            "used": mau_used,
            "free": edition.free_mau,
            "overage_allowed": edition.mau_overage_unit_price is not None,
        },
    }
