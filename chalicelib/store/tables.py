"""Create the tables from the models (idempotent), and describe them for infra/ and tests."""

from __future__ import annotations

from typing import Any, cast

from chalicelib.store import models


def create_tables(wait: bool = True) -> list[str]:
    """Create every missing table (with its indexes and TTL); answer the names created."""
    models.configure()
    created = []
    for model in models.ALL_MODELS:
        if not model.exists():
            model.create_table(wait=wait, billing_mode="PAY_PER_REQUEST")
            created.append(model.Meta.table_name)
    return created


def delete_tables() -> None:
    for model in models.ALL_MODELS:
        if model.exists():
            model.delete_table()


def table_schemas() -> dict[str, dict[str, Any]]:
    """Key schema, attribute definitions and indexes of each table, keyed by base name."""
    out: dict[str, dict[str, Any]] = {}
    for model in models.ALL_MODELS:
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
            "ttl_attribute": next(
                (a.attr_name for a in model.get_attributes().values() if type(a).__name__ == "TTLAttribute"),
                None,
            ),
        }
    return out
