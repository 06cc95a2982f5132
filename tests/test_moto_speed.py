"""The moto speed patches (tests/moto_speed.py) change how fast moto answers, never what it answers."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.responses import BaseResponse

from tests import moto_speed

KEY = {"pk": {"S": "a"}, "sk": {"N": "1"}}


@pytest.fixture
def both_answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, Any]]:
    """Each answer written twice: by the patched writer (sent) and by moto's own (kept to compare)."""
    seen: list[tuple[str, Any, Any]] = []
    fast = BaseResponse.serialized

    def spy(self: Any, result: Any) -> Any:
        sent = fast(self, result)
        seen.append((self._get_action(), sent, moto_speed.ORIGINAL["serialized"](self, result)))
        return sent

    monkeypatch.setattr(BaseResponse, "serialized", spy)
    return seen


def test_item_operations_answer_the_same_json_and_headers(both_answers: list[tuple[str, Any, Any]]) -> None:
    with mock_aws():
        c = boto3.client("dynamodb", region_name="us-east-1")
        c.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                  {"AttributeName": "sk", "KeyType": "RANGE"}],
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                             {"AttributeName": "sk", "AttributeType": "N"}])
        nested = {"M": {"x": {"L": [{"N": "1.5"}, {"NULL": True}, {"BOOL": False}]}}}
        item = {**KEY, "m": nested, "ss": {"SS": ["a", "b"]}}
        c.put_item(TableName="t", Item=item, ReturnConsumedCapacity="TOTAL")
        c.put_item(TableName="t", Item={**KEY, "sk": {"N": "2"}})
        assert c.get_item(TableName="t", Key=KEY)["Item"] == item
        assert "Item" not in c.get_item(TableName="t", Key={**KEY, "pk": {"S": "none"}})
        page = c.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}},
                       Limit=1)
        assert page["Count"] == 1 and page["LastEvaluatedKey"] == KEY
        c.update_item(TableName="t", Key=KEY, UpdateExpression="SET v = :v",
                      ExpressionAttributeValues={":v": {"N": "2"}}, ReturnValues="ALL_NEW")
        c.batch_get_item(RequestItems={"t": {"Keys": [KEY]}})
        c.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {**KEY, "pk": {"S": "b"}}}}])
        c.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": KEY}}])
        c.batch_write_item(RequestItems={"t": [{"DeleteRequest": {"Key": {**KEY, "pk": {"S": "b"}}}}]})
        c.scan(TableName="t")
        assert c.delete_item(TableName="t", Key=KEY, ReturnValues="ALL_OLD")["Attributes"]["v"] == {"N": "2"}
        with pytest.raises(c.exceptions.ConditionalCheckFailedException):
            c.put_item(TableName="t", Item=KEY, ConditionExpression="attribute_exists(pk)")
    actions = [action for action, _, _ in both_answers]
    assert set(moto_speed.ITEM_OPERATIONS) <= set(actions)
    for action, (status, headers, body), (real_status, real_headers, real_body) in both_answers:
        assert status == real_status, action
        assert {k: v for k, v in headers.items() if k != "x-amzn-requestid"} == \
            {k: v for k, v in real_headers.items() if k != "x-amzn-requestid"}, action
        assert json.loads(body) == json.loads(real_body), action
