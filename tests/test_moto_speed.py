"""The moto speed patches (tests/moto_speed.py) change how fast moto answers, never what it answers:
the same JSON and headers, the same all-or-nothing transactions, conditions decided on their own values."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.responses import BaseResponse

from tests import moto_speed

KEY = {"pk": {"S": "a"}, "sk": {"N": "1"}}


def _table(c: Any) -> None:
    c.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "sk", "AttributeType": "N"}])


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
        _table(c)
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



def test_a_cancelled_transaction_leaves_every_item_as_it_was() -> None:
    """The rollback keeps copies of the named items only: an update, a new item and a delete that
    ran before the failing condition are all undone; other items are untouched."""
    with mock_aws():
        c = boto3.client("dynamodb", region_name="us-east-1")
        _table(c)
        for sk, v in (("1", "1"), ("2", "2"), ("9", "9")):
            c.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"N": sk}, "v": {"N": v}})
        before = c.scan(TableName="t")["Items"]
        with pytest.raises(c.exceptions.TransactionCanceledException):
            c.transact_write_items(TransactItems=[
                {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}},
                            "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": "100"}}}},
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"N": "3"}}}},
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}}},
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}},
                         "ConditionExpression": "attribute_exists(pk)"}},
            ])
        assert c.scan(TableName="t")["Items"] == before


def test_a_remembered_condition_is_decided_with_its_own_values() -> None:
    """The parsed condition is kept per (expression, names, values): the same expression with
    other values is decided on those values."""
    with mock_aws():
        c = boto3.client("dynamodb", region_name="us-east-1")
        _table(c)
        c.put_item(TableName="t", Item={**KEY, "n": {"N": "5"}})
        for limit, passes in (("5", True), ("4", False), ("5", True), ("6", True), ("4", False)):
            check = {"TableName": "t", "Key": KEY, "ConditionExpression": "#n <= :limit",
                     "ExpressionAttributeNames": {"#n": "n"}, "ExpressionAttributeValues": {":limit": {"N": limit}}}
            put = {"TableName": "t", "Item": {**KEY, "sk": {"N": "2"}, "n": {"N": "5"}},
                   "ConditionExpression": "attribute_not_exists(pk) OR #n <= :limit",
                   "ExpressionAttributeNames": {"#n": "n"}, "ExpressionAttributeValues": {":limit": {"N": limit}}}
            if passes:
                c.transact_write_items(TransactItems=[{"ConditionCheck": check}])
                c.put_item(**put)
            else:
                with pytest.raises(c.exceptions.TransactionCanceledException):
                    c.transact_write_items(TransactItems=[{"ConditionCheck": check}])
                with pytest.raises(c.exceptions.ConditionalCheckFailedException):
                    c.put_item(**put)
