"""Tables made by an older version (a kept `make serve` data dir) gain the indexes and streams added since."""

from __future__ import annotations

import pytest

from chalicelib.store.dynamodb import models
from chalicelib.store.dynamodb.due import earliest_due
from chalicelib.store.dynamodb.tables import create_tables

pytestmark = [pytest.mark.storage, pytest.mark.fresh_tables]


def test_a_table_without_a_newer_index_gets_it_on_start(store: None) -> None:
    model = models.NotificationModel
    client = model._get_connection().connection.client
    schema = model._get_schema()
    old = [i for i in schema["global_secondary_indexes"] if i["index_name"] == "by_app"]
    model.delete_table()
    client.create_table(
        TableName=model.Meta.table_name,
        KeySchema=sorted(schema["key_schema"], key=lambda k: k["KeyType"]),  # HASH first
        AttributeDefinitions=[a for a in schema["attribute_definitions"]
                              if a["AttributeName"] in ("account_id", "notification_id", "sdkappid")],
        GlobalSecondaryIndexes=[{"IndexName": i["index_name"], "Projection": i["projection"],
                                 "KeySchema": sorted(i["key_schema"], key=lambda k: k["KeyType"])} for i in old],
        BillingMode="PAY_PER_REQUEST",
    )

    # the older table also lacked the stream that feeds the read views: it gains it too
    assert create_tables() == [f"{model.Meta.table_name}/send_due", f"{model.Meta.table_name}/stream"]
    assert create_tables() == []  # nothing more to add
    spec = client.describe_table(TableName=model.Meta.table_name)["Table"]["StreamSpecification"]
    assert spec == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    names = {i["IndexName"] for i in client.describe_table(TableName=model.Meta.table_name)["Table"]
             ["GlobalSecondaryIndexes"]}
    assert names == {"by_app", "send_due"}
    assert earliest_due(model.send_due, "send_due_at") is None  # the index answers queries
