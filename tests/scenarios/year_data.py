"""The small data set a year of the test clock is measured with (tests and scripts/bench.py):
1 account, 3 apps with packages, a push plugin at 101 calls a day, search and desk add-ons, one
app left to expire."""

from __future__ import annotations

from typing import Any

START = "2026-01-01T09:00:00Z"
END = "2027-01-01T09:00:00Z"


def seed_year(api: Any) -> dict[str, int]:
    """Seed through the API at START (the clock set there without running jobs)."""
    api.clock(START)
    api.account("acme", cash="60000.00", gift="100.00")
    main = api.app(name="main")
    api.buy(main, "pro", 12)
    api.ok("POST", f"/v1/apps/{main}/plugins", {"plugin": "push", "months": 12})
    api.ok("PUT", f"/v1/apps/{main}/plugins/push/quota", {"daily_broadcast_calls": 101})
    side = api.app(name="side")
    api.buy(side, "standard", 12)
    api.ok("POST", f"/v1/apps/{side}/plugins", {"plugin": "search", "months": 12})
    api.ok("POST", f"/v1/apps/{side}/addons", {"addon": "desk", "months": 12})
    expiring = api.app(name="expiring")
    api.buy(expiring, "standard", 1)  # left to expire: warnings, a stop, a reclamation
    api.ok("POST", "/v1/usage/push", {"sdkappid": main, "broadcast_calls": 1, "messages": 30_010_000},
           expect=200, role="service")
    return {"main": main, "side": side, "expiring": expiring}
