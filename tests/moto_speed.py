"""Speed patches for moto's DynamoDB (test-only; installed once per test process by conftest).

Both change how fast moto answers, never what it answers:

- moto 5's TransactWriteItems keeps a rollback copy by deep-copying the *whole table once per
  transaction item*: a 100-item transaction on a table of 2,000 users deep-copies 200,000 items
  (about 10 s). `snapshot_touched_items_only` keeps instead a copy of just the items the transaction
  names and puts them back if it fails, which is the same all-or-nothing effect.
- moto parses a condition expression again for every item it checks, with a lexer that compiles
  regular expressions per character (a 100-item transaction parses 200 times). `memoize_conditions`
  keeps the parsed tree per (expression, names, values); the tree is immutable (its nodes only
  read the item they are given), and a parse that fails is not kept, so the error is the same.
- moto 5.2 writes each answer by walking the botocore output shape member by member (a third of
  the time of a GetItem or Query). For the item operations, whose results are already DynamoDB
  JSON, `plain_json_answers` writes the members of the output shape with `json.dumps` (what moto
  did before 5.2); the headers still come from moto's serializer, and errors and every other
  operation still take its path. tests/test_moto_speed.py compares both writers answer by answer.
- moto lists a handler class's methods (inspect.getmembers) on every request; `list_methods_once`
  keeps the list per class."""

from __future__ import annotations

import copy
import functools
import json
from types import SimpleNamespace
from typing import Any


def install() -> None:
    snapshot_touched_items_only()
    memoize_conditions()
    plain_json_answers()
    list_methods_once()


def snapshot_touched_items_only() -> None:
    from moto.dynamodb import models as moto_models
    from moto.dynamodb.models.dynamo_type import DynamoType

    backend_cls = moto_models.DynamoDBBackend
    real = backend_cls.transact_write_items
    real_copy = moto_models.copy
    no_table_copy = SimpleNamespace(deepcopy=lambda value, memo=None: value)  # the whole-table "backup"

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            if not isinstance(op, dict) or op.get("TableName") not in self.tables:
                continue
            table = self.tables[op["TableName"]]
            key = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
                continue
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        moto_models.copy = no_table_copy  # type: ignore[assignment]
        try:
            real(self, transact_items)
        except Exception:
            for table, hash_value, range_value, old in reversed(saved):
                if range_value is None:
                    table.items.pop(hash_value, None)
                    if old is not None:
                        table.items[hash_value] = old
                else:
                    table.items[hash_value].pop(range_value, None)
                    if old is not None:
                        table.items[hash_value][range_value] = old
            raise
        finally:
            moto_models.copy = real_copy

    backend_cls.transact_write_items = transact_write_items  # type: ignore[method-assign]


class _Parsed:
    """A parser whose parse is already done: the same tree and the names and values it found."""

    def __init__(self, tree: Any, names_found: list[str], values_found: list[str]) -> None:
        self._tree = tree
        self._names = names_found
        self._values = values_found

    def parse(self) -> Any:
        return self._tree

    @property
    def expr_attr_names_found(self) -> list[str]:
        return list(self._names)  # callers extend the list they get

    @property
    def expr_attr_values_found(self) -> list[str]:
        return list(self._values)


def memoize_conditions() -> None:
    from moto.dynamodb import comparisons, responses

    real = comparisons.create_condition_expression_parser
    done: dict[tuple[Any, str, str], tuple[Any, list[str], list[str]]] = {}

    def create_condition_expression_parser(expr: Any, names: Any, values: Any) -> Any:
        key = (expr, json.dumps(names or {}, sort_keys=True), json.dumps(values or {}, sort_keys=True, default=str))
        if key in done:
            return _Parsed(*done[key])
        parser = real(expr, names, values)
        real_parse = parser.parse

        def parse() -> Any:
            tree = real_parse()  # a failed parse raises and is not kept
            if len(done) > 20_000:
                done.clear()
            done[key] = (tree, list(parser.expr_attr_names_found), list(parser.expr_attr_values_found))
            return tree

        parser.parse = parse  # type: ignore[method-assign]
        return parser

    comparisons.create_condition_expression_parser = create_condition_expression_parser  # type: ignore[assignment]
    responses.create_condition_expression_parser = create_condition_expression_parser  # type: ignore[assignment]


ORIGINAL: dict[str, Any] = {}  # moto's own functions, for the test that compares
ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                             "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})


def plain_json_answers() -> None:
    from moto.core import responses as moto_responses
    from moto.core.responses import ActionResult, BaseResponse

    real = ORIGINAL.setdefault("serialized", BaseResponse.serialized)

    def serialized(self: Any, action_result: Any) -> Any:
        result = action_result.result
        action = self._get_action() if self.service_name == "dynamodb" else None
        if action not in ITEM_OPERATIONS or type(result) is not dict:
            return real(self, action_result)
        members = moto_responses.get_service_model("dynamodb").operation_model(action).output_shape.members
        try:
            body = json.dumps({k: v for k, v in result.items() if k in members and v is not None})
        except TypeError:  # a value JSON cannot write as is (bytes): moto's serializer knows
            return real(self, action_result)
        status, headers, _ = real(self, ActionResult({}))
        return status, headers, body

    BaseResponse.serialized = serialized  # type: ignore[method-assign]


def list_methods_once() -> None:
    from moto.core import responses as moto_responses

    moto_responses.method_names_from_class = functools.cache(moto_responses.method_names_from_class)
