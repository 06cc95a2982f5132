"""Write units from real item sizes: every write the store's clients send, sized by DynamoDB's rules
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
an item's size is the UTF-8 length of each attribute name plus its value; a write costs one unit
per KB of the item (two inside TransactWriteItems, condition checks included), and each global
secondary index whose key attributes the new item has costs one more unit per KB (ALL projection).

Updates (ADD counters) are sized from the attributes they name (a lower bound: the item's other
attributes are not in the request); the monthly bill writes none."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from chalicelib.store.dynamodb import tables
from chalicelib.store.dynamodb.watch import store_clients

KB = 1024


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's JSON shape."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(str(v).encode())
    if kind == "N":
        return number_size(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(x.encode()) for x in v)
    if kind == "NS":
        return sum(number_size(x) for x in v)
    if kind == "L":
        return 3 + sum(1 + value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(x) for k, x in v.items())
    raise ValueError(f"unknown attribute type {kind}")


def number_size(text: str) -> int:
    """About 1 byte per 2 significant digits, plus 1."""
    digits = format(abs(Decimal(text)), "f").replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def _indexes() -> dict[str, list[tuple[str, ...]]]:
    """Table name -> the key attribute names of each of its GSIs."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for model in tables.ALL_MODELS:
        out[model.Meta.table_name] = [
            tuple(a.attr_name for a in index.Meta.attributes.values() if a.is_hash_key or a.is_range_key)
            for index in model._indexes.values()]
    return out


class WriteUnits:
    """Write units by table (base table and its indexes together), and the sizes of items put."""

    def __init__(self) -> None:
        self.by_table: Counter[str] = Counter()
        self.sizes: dict[str, list[int]] = {}
        self._gsis = _indexes()

    @property
    def total(self) -> int:
        return sum(self.by_table.values())

    def _put(self, table: str, item: dict[str, Any], per_kb: int) -> None:
        size = item_size(item)
        self.sizes.setdefault(table, []).append(size)
        self.by_table[table] += per_kb * units(size)
        for names in self._gsis.get(table, []):
            if all(n in item for n in names):
                self.by_table[table] += units(size)

    def _named(self, table: str, op: dict[str, Any], per_kb: int) -> None:
        key = op.get("Key", {})
        self.by_table[table] += per_kb * units(item_size(key) + sum(
            len(n.encode()) + value_size(v) for n, v in op.get("ExpressionAttributeValues", {}).items()))

    def observe(self, operation: str, params: dict[str, Any]) -> None:
        if operation == "PutItem":
            self._put(params["TableName"], params["Item"], 1)
        elif operation in ("UpdateItem", "DeleteItem"):
            self._named(params["TableName"], params, 1)
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                (kind, op), = entry.items()
                if kind == "Put":
                    self._put(op["TableName"], op["Item"], 2)
                else:
                    self._named(op["TableName"], op, 2)
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for r in requests:
                    if "PutRequest" in r:
                        self._put(table, r["PutRequest"]["Item"], 1)
                    else:
                        self._named(table, r["DeleteRequest"], 1)


@contextmanager
def count_write_units() -> Iterator[WriteUnits]:
    counter = WriteUnits()

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        counter.observe(model.name, params)

    clients = store_clients()
    for client in clients:
        client.meta.events.register("provide-client-params.dynamodb", hook, unique_id="imbill-write-units")
    try:
        yield counter
    finally:
        for client in clients:
            client.meta.events.unregister("provide-client-params.dynamodb", unique_id="imbill-write-units")
