"""One composition of the dependencies (chalicelib/bootstrap.py): what the app, the CLI and the tests
use, replaceable as a whole, read again from the environment after a reset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from chalice.test import Client

from chalicelib import bootstrap, config
from chalicelib.clock import FixedClock
from chalicelib.notify import LocalNotifier
from tests.fakes.uow import FakeStore, FakeUnitOfWork
from tests.helpers import Api

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


@pytest.fixture
def fresh() -> Iterator[None]:
    bootstrap.reset()
    yield
    bootstrap.reset()


def test_the_api_takes_its_clock_and_store_from_the_composition(fresh: None) -> None:
    import app as app_module

    tables = FakeStore()
    bootstrap.use(bootstrap.compose(clock=FixedClock(NOW), uow=tables.uow))
    with Client(app_module.app) as client:
        api = Api(client)
        created = api.call("POST", "/v1/accounts", {"account_id": "acme", "email": "a@x.test", "phone": "+15550100"})
        read = api.call("GET", "/v1/accounts/acme")
    assert (created.status, read.status, read.body["created_at"]) == (201, 200, "2026-03-10T09:30:00Z")
    stored = FakeUnitOfWork(tables).accounts.get("acme")
    assert stored is not None and stored.created_at == NOW  # written to the composed store, at its clock


def test_a_reset_composes_again_from_the_environment(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert bootstrap.current() is bootstrap.current()  # one composition per process until reset
    monkeypatch.setenv("IMBILL_TIMEZONE", "Asia/Shanghai")
    assert bootstrap.current().zone == ZoneInfo("UTC")  # kept: the environment is read once
    bootstrap.reset()
    assert bootstrap.current().zone == ZoneInfo("Asia/Shanghai")
    assert bootstrap.current().settings is config.settings()


def test_the_notifier_is_made_once_and_only_when_first_used(fresh: None) -> None:
    made: list[LocalNotifier] = []

    def make() -> LocalNotifier:
        made.append(LocalNotifier())
        return made[-1]

    deps = bootstrap.compose()
    deps = bootstrap.Deps(deps.settings, deps.clock, deps.zone, deps.catalog, deps.uow, make)
    assert made == []
    assert deps.notifier is deps.notifier is made[0]
    assert len(made) == 1


def test_a_context_carries_the_composed_clock_zone_and_unit_of_work(fresh: None) -> None:
    tables = FakeStore()
    ctx = bootstrap.compose(clock=FixedClock(NOW), uow=tables.uow).ctx()
    assert (ctx.now, ctx.tz, ctx.principal.role) == (NOW, ZoneInfo("UTC"), "operator")
    assert isinstance(ctx.uow(), FakeUnitOfWork)
