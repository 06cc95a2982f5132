"""infra/tables.template.json is generated from the models: a model change without regenerating fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.tables import TEMPLATE_PATH, load_schemas, logical_id, render

REGENERATE = "infra/tables.template.json is stale: `python infra/tables.py` regenerates it from the models"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    assert TEMPLATE_PATH.exists(), REGENERATE
    return json.loads(Path(TEMPLATE_PATH).read_text())


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    return load_schemas()


def _tables(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Properties of each AWS::DynamoDB::Table, keyed by base name (the part after imbill-${Stage}-)."""
    out = {}
    for res in template["Resources"].values():
        if res["Type"] == "AWS::DynamoDB::Table":
            name = res["Properties"]["TableName"]["Fn::Sub"]
            assert name.startswith("imbill-${Stage}-"), name
            out[name.removeprefix("imbill-${Stage}-")] = res["Properties"]
    return out


def test_template_has_one_table_per_model_and_a_stage_parameter(template, schemas):
    assert "Stage" in template["Parameters"]
    assert sorted(_tables(template)) == sorted(schemas), REGENERATE
    for name in schemas:
        assert logical_id(name) in template["Resources"], REGENERATE


def test_every_table_matches_its_model(template, schemas):
    tables = _tables(template)
    for name, model in schemas.items():
        props = tables[name]
        where = f"table {name}: {REGENERATE}"
        assert props["BillingMode"] == "PAY_PER_REQUEST", where
        assert props["KeySchema"] == model["key_schema"], where
        assert props["AttributeDefinitions"] == model["attribute_definitions"], where
        gsis = {g["IndexName"]: g for g in props.get("GlobalSecondaryIndexes", [])}
        want = {g["IndexName"]: g for g in model["global_secondary_indexes"]}
        assert sorted(gsis) == sorted(want), where
        for index, g in want.items():
            assert gsis[index]["KeySchema"] == g["KeySchema"], f"index {name}.{index}: {REGENERATE}"
            assert gsis[index]["Projection"] == g["Projection"], f"index {name}.{index}: {REGENERATE}"
        ttl = props.get("TimeToLiveSpecification")
        if model["ttl_attribute"]:
            assert ttl == {"AttributeName": model["ttl_attribute"], "Enabled": True}, where
        else:
            assert ttl is None, where


def test_key_attributes_are_all_defined(template):
    """CloudFormation rejects an AttributeDefinition no key uses, and a key with no definition."""
    for name, props in _tables(template).items():
        keys = {k["AttributeName"] for k in props["KeySchema"]}
        for g in props.get("GlobalSecondaryIndexes", []):
            keys |= {k["AttributeName"] for k in g["KeySchema"]}
        assert {a["AttributeName"] for a in props["AttributeDefinitions"]} == keys, name


def test_the_checked_in_file_is_exactly_what_the_generator_writes():
    assert TEMPLATE_PATH.read_text() == render(), REGENERATE


def test_the_idempotency_table_expires_records_and_the_due_indexes_exist(schemas):
    assert schemas["idempotency"]["ttl_attribute"] == "expires"
    apps = {g["IndexName"] for g in schemas["apps"]["global_secondary_indexes"]}
    assert apps == {"by_account", "warn_due", "enforce_due", "reclaim_due", "push_billing"}


def test_the_view_feeding_tables_have_streams_and_export_their_arns(template, schemas):
    tables = _tables(template)
    streamed = {name for name, model in schemas.items() if model.get("stream_view_type")}
    assert streamed == {"accounts", "ledger", "notifications", "events"}
    for name in schemas:
        spec = tables[name].get("StreamSpecification")
        view = "NEW_IMAGE" if name == "events" else "NEW_AND_OLD_IMAGES"  # events are written once
        assert spec == ({"StreamViewType": view} if name in streamed else None), REGENERATE
        assert (f"{logical_id(name)}StreamArn" in template["Outputs"]) is (name in streamed), REGENERATE
