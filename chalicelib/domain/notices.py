"""Notification texts: templates in the catalog (`notices`, checked at load: catalog.NOTICE_FACTS),
whose rule numbers (delays, the reclamation wait) are filled from the catalog, so a changed delay
changes every text that states it. Facts of the moment (an instant, a balance, an app) are passed by
the caller."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.catalog import RULE_WORDS, Catalog


def duration(n: int, unit: str) -> str:
    """"24 hours", "1 day"."""
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def rule_values(catalog: Catalog) -> dict[str, str]:
    """The rule numbers a text may state, as words."""
    return {word: duration(catalog.lifecycle(key), unit) for word, (key, unit) in RULE_WORDS.items()}


def render(catalog: Catalog, template: str, /, **facts: Any) -> str:
    """The catalog's text `template` with the rule words and the facts filled in."""
    return catalog.spec.notices[template].format(**rule_values(catalog), **facts)


def notice(catalog: Catalog, kind: str, /, **facts: Any) -> tuple[str, str]:
    """(subject, body) of a notification: the templates `<kind>_subject` and `<kind>_body`."""
    return render(catalog, f"{kind}_subject", **facts), render(catalog, f"{kind}_body", **facts)
