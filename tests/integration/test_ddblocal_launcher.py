"""The DynamoDB Local launcher keeps tables on disk across a restart on the same data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.local import ddblocal

pytestmark = [pytest.mark.ddblocal, pytest.mark.heavy]


@pytest.fixture(autouse=True)
def _requires_java() -> None:
    if not ddblocal.java_available():
        pytest.skip("java is not installed: DynamoDB Local cannot run")


def _client(port: int) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=ddblocal.endpoint_url(port),
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_tables_survive_restart_on_same_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "ddb"
    port = ddblocal.free_port()

    with ddblocal.running(data_dir, port) as proc:
        client = _client(port)
        client.create_table(
            TableName="launcher-probe",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="launcher-probe", Item={"pk": {"S": "kept"}})
    assert proc.poll() is not None, "stop() must leave no JVM running"
    assert not ddblocal.port_open(port)

    with ddblocal.running(data_dir, port):
        client = _client(port)
        assert client.list_tables()["TableNames"] == ["launcher-probe"]
        item = client.get_item(TableName="launcher-probe", Key={"pk": {"S": "kept"}})["Item"]
        assert item == {"pk": {"S": "kept"}}


def test_in_memory_instance_starts_empty() -> None:
    port = ddblocal.free_port()
    with ddblocal.running(None, port):
        assert _client(port).list_tables()["TableNames"] == []


def test_start_refuses_a_port_in_use() -> None:
    port = ddblocal.free_port()
    with ddblocal.running(None, port), pytest.raises(ddblocal.DynamoDBLocalError, match="already in use"):
        ddblocal.start(None, port)
