"""One unit of work = one DynamoDB TransactWriteItems, plus the retry policy around it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib.domain.errors import Busy
from chalicelib.store import models

T = TypeVar("T")
Item = TypeVar("Item")

_connection: Connection | None = None
_connection_key: tuple[str | None, str] | None = None


def connection() -> Connection:
    global _connection, _connection_key
    key = (models.AccountModel.Meta.host, models.AccountModel.Meta.region)
    if _connection is None or _connection_key != key:
        _connection = Connection(region=key[1], host=key[0], max_retry_attempts=3)
        _connection_key = key
    return _connection


def reset_connection() -> None:
    global _connection
    _connection = None


def write() -> TransactWrite:
    return TransactWrite(connection=connection())


def read() -> TransactGet:
    return TransactGet(connection=connection())


class Contention(Busy):
    """A write kept losing to concurrent writers until the retry budget ran out: nothing was
    written; the API answers 503 `busy` with Retry-After, a job counts the item as failed."""


def is_conflict(err: TransactWriteError) -> bool:
    """A cancelled transaction whose conditions (or a concurrent transaction) failed."""
    return err.cause_response_code in ("TransactionCanceledException", "TransactionConflictException")


def is_write_conflict(err: BaseException) -> bool:
    """Another writer won: a cancelled transaction, a failed condition of a single put, update or
    delete, or a write that already ran out of retries (Contention)."""
    if isinstance(err, Contention):
        return True
    if isinstance(err, TransactWriteError):
        return is_conflict(err)
    if isinstance(err, PutError | UpdateError | DeleteError):
        return err.cause_response_code == "ConditionalCheckFailedException"
    return False


TRIES = 8  # attempts of one optimistic write
BUDGET = 1.0  # seconds: no new try after this long (a request answers 503 busy within about 1-2 s)


def backoff(attempt: int) -> None:
    """Full-jitter exponential wait (10 ms doubling, at most 0.25 s) before retrying a lost race."""
    time.sleep(random.uniform(0, min(0.25, 0.01 * 2 ** min(attempt, 5))))


def with_retries(attempt: Callable[[], T], tries: int | None = None, budget: float | None = None) -> T:
    """Run an optimistic load-decide-commit attempt until it commits; each try reloads state.

    `attempt` raises TransactWriteError when its conditions fail because another writer won;
    it is run again from scratch (so a balance check sees the other writer's effect), at most
    `tries` times and not past `budget` seconds; then Contention (nothing was written)."""
    tries = TRIES if tries is None else tries  # read at call time: a test may widen the policy
    budget = BUDGET if budget is None else budget
    started = time.monotonic()
    for i in range(tries):
        try:
            return attempt()
        except TransactWriteError as err:
            if not is_conflict(err):
                raise
        if i + 1 < tries:
            backoff(i)
            if time.monotonic() - started > budget:
                break
    raise Contention("the item is being changed by other requests; retry shortly")


def retry_step(item: Item, step: Callable[[Item], T], reload: Callable[[Item], Item], tries: int = 5) -> T:
    """One job step on one item: when another writer wins (any write conflict), reload the item
    and decide again; Contention when `tries` attempts all lost (nothing of the last one written)."""
    for i in range(tries):
        try:
            return step(item)
        except Exception as err:
            if not is_write_conflict(err):
                raise
            if i + 1 == tries:
                raise Contention(f"still conflicting after {tries} attempts: {err}") from err
        backoff(i)
        item = reload(item)
    raise AssertionError("unreachable: the last attempt returns or raises")


def delete_all(model: Any, items: Iterable[Any]) -> int:
    """Delete items of one model in BatchWriteItem calls of 25 (not a transaction: for data that
    goes, idempotently); answers how many."""
    deleted = 0
    with model.batch_write() as batch:
        for item in items:
            batch.delete(item)
            deleted += 1
    return deleted
