"""Speed patches for moto (test-only; DynamoDB Local needs none).

moto 5's TransactWriteItems keeps a rollback copy by deep-copying the *whole table once per
transaction item*: a 100-item transaction on a table of 2,000 users deep-copies 200,000 items
(about 10 s). `snapshot_touched_items_only` keeps instead a copy of just the items the transaction
names and puts them back if it fails, which is the same all-or-nothing effect."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any


@contextmanager
def snapshot_touched_items_only() -> Iterator[None]:
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
    try:
        yield
    finally:
        backend_cls.transact_write_items = real  # type: ignore[method-assign]
