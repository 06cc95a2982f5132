"""Create the tables from the models (idempotent), and describe them for infra/ and tests."""

from __future__ import annotations

import time
from typing import Any, cast

from chalicelib.config import settings
from chalicelib.store.dynamodb import models
from chalicelib.store.dynamodb.models import _Base
from chalicelib.store.dynamodb.usage_models import BillModel, UsageModel, UserSeenModel
from chalicelib.store.dynamodb.view_model import ViewModel

ALL_MODELS: list[type[_Base]] = [*models.MODELS, UsageModel, UserSeenModel, BillModel, ViewModel]


def configure(host: str | None = None, prefix: str | None = None, region: str | None = None) -> None:
    """Point every model at an endpoint and table prefix (default: from settings)."""
    s = settings()
    models._Base.Meta.host = host if host is not None else s.dynamodb_endpoint
    models._Base.Meta.region = region or s.region
    for model in ALL_MODELS:
        model.Meta.table_name = f"{prefix if prefix is not None else s.table_prefix}{model.Meta.base_name}"
        model.Meta.host = host if host is not None else s.dynamodb_endpoint
        model.Meta.region = region or s.region
        model._connection = None


def reset_connections() -> None:
    """Every model and transaction makes its connection again on next use."""
    models.forget_shared_connection()
    for model in ALL_MODELS:
        model._connection = None


def create_tables(wait: bool = True) -> list[str]:
    """Create every missing table (with its indexes and TTL); answer the names created."""
    configure()
    created = []
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=wait, billing_mode="PAY_PER_REQUEST")
            created.append(model.Meta.table_name)
        else:
            created += add_missing_indexes(model)
            created += enable_stream(model)
    return created


def enable_stream(model: Any) -> list[str]:
    """A table made before its model fed the read views gains its stream (UpdateTable)."""
    view = getattr(model.Meta, "stream_view_type", None)
    if view is None:
        return []
    client = model._get_connection().connection.client
    table = model.Meta.table_name
    if client.describe_table(TableName=table)["Table"].get("StreamSpecification", {}).get("StreamEnabled"):
        return []
    client.update_table(TableName=table, StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    return [f"{table}/stream"]


def add_missing_indexes(model: Any) -> list[str]:
    """A table made by an older version (e.g. a kept `make serve` data dir) gets the GSIs the
    model has gained since (UpdateTable, one index per call, as DynamoDB requires); answers
    "table/index" for each one added."""
    client = model._get_connection().connection.client
    table = model.Meta.table_name
    have = {i["IndexName"] for i in client.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])}
    added = []
    for index in model._get_schema()["global_secondary_indexes"]:
        if index["index_name"] in have:
            continue
        client.update_table(
            TableName=table,
            AttributeDefinitions=index["attribute_definitions"],
            GlobalSecondaryIndexUpdates=[{"Create": {
                "IndexName": index["index_name"], "Projection": index["projection"],
                "KeySchema": sorted(index["key_schema"], key=lambda k: k["KeyType"]),  # HASH first
            }}],
        )
        added.append(f"{table}/{index['index_name']}")
        _wait_for_index(client, table, index["index_name"])
    return added


def _wait_for_index(client: Any, table: str, name: str, timeout_s: float = 120.0) -> None:
    """An added index backfills before it answers queries (DynamoDB Local fails them meanwhile)."""
    waited = 0.0
    while waited < timeout_s:
        indexes = client.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
        if any(i["IndexName"] == name and i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes):
            return
        time.sleep(0.2)
        waited += 0.2
    raise TimeoutError(f"index {table}/{name} did not become ACTIVE in {timeout_s:.0f} s")


def delete_tables() -> None:
    for model in ALL_MODELS:
        if model.exists():
            model.delete_table()


def table_schemas() -> dict[str, dict[str, Any]]:
    """Key schema, attribute definitions and indexes of each table, keyed by base name."""
    out: dict[str, dict[str, Any]] = {}
    for model in ALL_MODELS:
        schema = model._get_schema()
        out[model.Meta.base_name] = {
            "key_schema": sorted(
                ({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in schema["key_schema"]),
                key=lambda k: k["KeyType"],
            ),
            "attribute_definitions": sorted(
                schema["attribute_definitions"], key=lambda a: a["AttributeName"]
            ),
            "global_secondary_indexes": sorted(
                (
                    {
                        "IndexName": i["index_name"],
                        "KeySchema": sorted(i["key_schema"], key=lambda k: k["KeyType"]),
                        "Projection": i["projection"],
                    }
                    for i in cast(list[dict[str, Any]], schema["global_secondary_indexes"])
                ),
                key=lambda i: i["IndexName"],
            ),
            "stream_view_type": getattr(model.Meta, "stream_view_type", None),
            "ttl_attribute": next(
                (a.attr_name for a in model.get_attributes().values() if type(a).__name__ == "TTLAttribute"),
                None,
            ),
        }
    return out
