"""Count DynamoDB requests through a botocore event hook on every client the store uses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.store.watch import store_clients


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
    clients = store_clients()
    for client in clients:
        client.meta.events.register("before-call.dynamodb", counter, unique_id="imbill-request-counter")
    try:
        yield counter
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.dynamodb", unique_id="imbill-request-counter")
