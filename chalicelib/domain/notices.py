"""Notification texts: templates whose rule numbers (delays, the reclamation wait) are filled from the
catalog, so a changed delay changes every text that states it. Facts of the moment (an instant, a
balance, an app) are passed by the caller."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.catalog import Catalog

TEMPLATES = {
    "warning_stopped": "It was stopped {stop_after_expiry} after expiry: buy a package to bring it back; "
                       "its data is deleted {reclaim_after} after the stop.",
    "warning_enabled": "Renew it to keep the app in service; it stops {stop_after_expiry} after expiry.",
    "warning_auto_short": "Auto-renewal will fail for lack of balance: a month costs {monthly}, cash + gift is "
                          "{balance}, {short} short. Top up to let it renew; it stops {stop_after_expiry} "
                          "after expiry.",
    "stopped_expired": "its package expired {expired_at} and was not renewed. Its data is deleted {reclaim_after} "
                       "after the stop unless it is brought back by a purchase.",
    "arrears_body": "A postpaid bill left your balance at {balance}. Top up to zero or above within "
                    "{arrears_stop_after}, or every enabled app of the account stops at {stops_at}.",
}


def duration(n: int, unit: str) -> str:
    """"24 hours", "1 day"."""
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def rule_values(catalog: Catalog) -> dict[str, str]:
    """The rule numbers a text may state, as words."""
    return {
        "stop_after_expiry": duration(catalog.lifecycle("stop_after_expiry_hours"), "hour"),
        "arrears_stop_after": duration(catalog.lifecycle("arrears_stop_after_hours"), "hour"),
        "reclaim_after": duration(catalog.lifecycle("reclaim_after_days"), "day"),
        "renewal_grace": duration(catalog.lifecycle("renewal_grace_hours"), "hour"),
    }


def render(catalog: Catalog, name: str, **facts: Any) -> str:
    return TEMPLATES[name].format(**rule_values(catalog), **facts)
