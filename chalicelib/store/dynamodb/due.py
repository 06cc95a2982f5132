"""The DynamoDB due repository (the unit of work's `due`): every index keyed by (due shard, due
instant) is read the same way, a Query per shard, never a Scan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pynamodb.attributes import Attribute

from chalicelib.store.dynamodb import tables, watch
from chalicelib.store.dynamodb.models import read_shards
from chalicelib.store.port import DueIndex, DueRepository


class DynamoDuePage:
    """The due items of one shard after `cursor` (an index key, JSON-able), at most `limit` of them
    (None: all of the shard), as the port's DueRepository.page describes."""

    def __init__(self, index: DueIndex, at: datetime, shard: int, cursor: Any = None,
                 limit: int | None = None) -> None:
        self._limit = limit
        self._items = getattr(index.model, index.name).query(str(shard), getattr(index.model, index.attr) <= at,
                                                             limit=limit, last_evaluated_key=cursor)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    @property
    def cursor(self) -> Any:
        return None if self._limit is None else self._items.last_evaluated_key


class DynamoDueRepository(DueRepository):
    def shards(self) -> range:
        return read_shards()

    def page(self, index: DueIndex, at: datetime, shard: int, cursor: Any = None,
             limit: int | None = None) -> DynamoDuePage:
        return DynamoDuePage(index, at, shard, cursor, limit)

    def earliest(self, index: DueIndex) -> datetime | None:
        """One Query with Limit 1 per shard; during a clock move remembered until a write could
        change it (store/dynamodb/watch.py)."""
        w = watch.current()
        if w is not None:
            return w.earliest(index, [str(s) for s in read_shards()])
        found = []
        for shard in read_shards():
            for item in getattr(index.model, index.name).query(str(shard), limit=1):
                found.append(getattr(item, index.attr))
                break
        return min(found) if found else None


def due_index(index: Any, attr: str) -> DueIndex:
    """The port's DueIndex of a PynamoDB due index object (e.g. AppModel.warn_due) and its due attribute."""
    for model in tables.ALL_MODELS:
        for name, value in vars(model).items():
            if value is index:
                shard = next(a.attr_name for a in vars(type(index)).values()
                             if isinstance(a, Attribute) and a.is_hash_key)
                return DueIndex(model, name, shard, attr)
    raise ValueError(f"{index!r} is no index of the tables")


def earliest_due(index: Any, attr: str) -> datetime | None:
    """The smallest due instant of a PynamoDB due index (what the jobs ask the unit of work's `due`)."""
    return DynamoDueRepository().earliest(due_index(index, attr))
