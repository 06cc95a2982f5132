"""Count DynamoDB requests through a botocore event hook on every client the store uses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib.store.dynamodb.watch import requests_seen


class RequestCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, operation: str) -> None:
        self.calls[operation] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@contextmanager
def count_requests() -> Iterator[RequestCounter]:
    counter = RequestCounter()
    with requests_seen(counter):
        yield counter
