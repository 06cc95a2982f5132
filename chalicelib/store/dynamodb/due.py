"""Reading a due-time index: every index keyed by (due_shard, <due instant>) is read the same way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib.store.dynamodb import watch
from chalicelib.store.dynamodb.models import read_shards


class DuePage:
    """The due items of one shard after `cursor` (an index key, JSON-able), at most `limit` of them
    (None: all of the shard). Iterated lazily; `cursor` afterwards says where the next page starts
    (None: the shard is done). An item acted on leaves the index, one that failed stays: the cursor
    (a position, not a filter) moves past both, so a page never takes the same item twice."""

    def __init__(self, index: Any, attr: Any, at: datetime, shard: int, cursor: Any = None,
                 limit: int | None = None) -> None:
        self._limit = limit
        self._items = index.query(str(shard), attr <= at, limit=limit, last_evaluated_key=cursor)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    @property
    def cursor(self) -> Any:
        return None if self._limit is None else self._items.last_evaluated_key


def due_items(index: Any, attr: Any, at: datetime) -> Iterator[Any]:
    """Items whose due-time attribute is at or before `at`, shard by shard (a Query per shard)."""
    for shard in read_shards():
        yield from DuePage(index, attr, at, shard)


def earliest_due(index: Any, attr_name: str) -> datetime | None:
    """The smallest due time in an index (one Query with Limit 1 per shard; during a clock move,
    remembered until a write could change it: see store/dynamodb/watch.py)."""
    w = watch.current()
    if w is not None:
        return w.earliest(index, attr_name, [str(s) for s in read_shards()])
    found = []
    for shard in read_shards():
        for item in index.query(str(shard), limit=1):
            found.append(getattr(item, attr_name))
            break
    return min(found) if found else None
