"""Fixtures shared by the API tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def acme(api):  # type: ignore[no-untyped-def]
    """acme with 500.00 cash and one Developer app, on 2026-03-01."""
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="500.00")
    return api.app("acme")
