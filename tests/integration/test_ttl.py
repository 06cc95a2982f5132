"""DynamoDB TTL deletes items by the wall clock; the service writes expiries in its own clock.

Under the test clock (tests, `make serve`) the two differ: a record written at a simulated
2026-03-10 already "expired" by the wall clock, and DynamoDB Local's sweeper deleted live
idempotency records, so ten concurrent retries of one key bought twice. TTL is therefore enabled
only when the service runs on the wall clock (infra/ always enables it; see test_infra_tables)."""

from __future__ import annotations

import pytest

from chalicelib import config
from chalicelib.store.dynamodb import models, plumbing, tables
from chalicelib.store.dynamodb.tables import create_tables, delete_tables

pytestmark = [pytest.mark.storage, pytest.mark.fresh_tables]


def _ttl_status(model: type[models._Base]) -> str:
    client = plumbing.connection().client
    desc = client.describe_time_to_live(TableName=model.Meta.table_name)["TimeToLiveDescription"]
    return str(desc["TimeToLiveStatus"])


def test_under_the_test_clock_no_table_has_ttl_enabled(store: None) -> None:
    assert config.settings().test_clock
    for model in (models.IdempotencyModel, *(m for m in tables.ALL_MODELS if m._ttl_attribute())):
        assert _ttl_status(model) == "DISABLED", model.Meta.table_name


def test_on_the_wall_clock_the_ttl_attribute_is_enabled(store: None, monkeypatch: pytest.MonkeyPatch) -> None:
    delete_tables()
    monkeypatch.setenv("IMBILL_TEST_CLOCK", "0")
    config.reset_settings()
    try:
        create_tables()
        with_ttl = [m for m in tables.ALL_MODELS if m._ttl_attribute()]
        assert models.IdempotencyModel in with_ttl
        assert all(_ttl_status(m) in ("ENABLED", "ENABLING") for m in with_ttl)
    finally:
        monkeypatch.undo()
        config.reset_settings()
