"""Fixtures of the service tests on the in-memory unit of work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib import bootstrap
from chalicelib.notify import LocalNotifier
from tests.fakes.uow import FakeStore


@pytest.fixture
def tables() -> FakeStore:
    """The in-memory tables of one test."""
    return FakeStore()


@pytest.fixture
def notifier(tables: FakeStore) -> Iterator[LocalNotifier]:
    """The notifier of the composed application (what was sent), over these tables."""
    sent = LocalNotifier()
    bootstrap.use(bootstrap.compose(notifier=sent, uow=tables.uow))
    yield sent
    bootstrap.reset()
