"""Count DynamoDB requests through a botocore event hook (registered before clients are made)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.handlers

from chalicelib.store import models, uow


class RequestCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, event_name: str, **kwargs: Any) -> None:
        # event_name: before-call.dynamodb.<Operation>
        self.calls[event_name.rsplit(".", 1)[-1]] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@contextmanager
def count_requests() -> Iterator[RequestCounter]:
    counter = RequestCounter()
    entry = ("before-call.dynamodb", counter)
    botocore.handlers.BUILTIN_HANDLERS.append(entry)
    _fresh_clients()
    try:
        yield counter
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(entry)
        _fresh_clients()


def _fresh_clients() -> None:
    """PynamoDB caches botocore clients per model; drop them so new ones carry the hook."""
    for model in models.ALL_MODELS:
        model._connection = None
    uow.reset_connection()
