"""One unit of work = one DynamoDB TransactWriteItems, plus the retry policy around it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib.store import models

T = TypeVar("T")

def connection() -> Connection:
    """The models' shared connection: transactions use the same botocore client as every model."""
    return models.shared_connection()


def reset_connection() -> None:
    models.reset_shared_connection()


class Tx(TransactWrite):
    """A TransactWrite that runs `after_commit` callbacks (metrics of the moves) once it committed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.after_commit: list[Callable[[], None]] = []

    def _commit(self) -> Any:
        result = super()._commit()
        for fn in self.after_commit:
            fn()
        return result


def write() -> TransactWrite:
    return Tx(connection=connection())


def read() -> TransactGet:
    return TransactGet(connection=connection())


class Contention(Exception):
    """A transaction kept losing to concurrent writers."""


def is_conflict(err: TransactWriteError) -> bool:
    """A cancelled transaction whose conditions (or a concurrent transaction) failed."""
    return err.cause_response_code in ("TransactionCanceledException", "TransactionConflictException")


def backoff(attempt: int) -> None:
    """Jittered exponential wait (at most 0.2 s) before retrying a transaction that lost a race."""
    time.sleep(random.uniform(0, min(0.2, 0.005 * (2 ** min(attempt, 6)))))


def with_retries(attempt: Callable[[], T], tries: int = 40) -> T:
    """Run an optimistic load-decide-commit attempt until it commits; each try reloads state.

    `attempt` raises TransactWriteError when its conditions fail because another writer won;
    it is run again from scratch (so a balance check sees the other writer's effect)."""
    for i in range(tries):
        try:
            return attempt()
        except TransactWriteError as err:
            if not is_conflict(err) or i == tries - 1:
                raise
            backoff(i)
    raise Contention("too much contention")


def delete_all(model: Any, items: Iterable[Any]) -> int:
    """Delete items of one model in BatchWriteItem calls of 25 (not a transaction: for data that
    goes, idempotently); answers how many."""
    deleted = 0
    with model.batch_write() as batch:
        for item in items:
            batch.delete(item)
            deleted += 1
    return deleted
