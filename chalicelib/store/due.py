"""Reading a due-time index: every index keyed by (due_shard, <due instant>) is read the same way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib.store import watch
from chalicelib.store.models import DUE_SHARDS


def due_items(index: Any, attr: Any, at: datetime) -> Iterator[Any]:
    """Items whose due-time attribute is at or before `at`, shard by shard (a Query per shard)."""
    for shard in range(DUE_SHARDS):
        yield from index.query(str(shard), attr <= at)


def earliest_due(index: Any, attr_name: str) -> datetime | None:
    """The smallest due time in an index (one Query with Limit 1 per shard; during a clock move,
    remembered until a write could change it: see store/watch.py)."""
    w = watch.current()
    if w is not None:
        return w.earliest(index, attr_name, [str(s) for s in range(DUE_SHARDS)])
    found = []
    for shard in range(DUE_SHARDS):
        for item in index.query(str(shard), limit=1):
            found.append(getattr(item, attr_name))
            break
    return min(found) if found else None
