"""One unit of work = one DynamoDB TransactWriteItems, plus the retry policy around it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib.store.dynamodb import models, tables
from chalicelib.store.port import Contention as Contention  # the retry policy: jobs name it here
from chalicelib.store.port import WriteConflict
from chalicelib.store.port import backoff as backoff

T = TypeVar("T")
Item = TypeVar("Item")

def connection() -> Connection:
    """The models' shared connection: transactions use the same botocore client as every model."""
    return models.shared_connection()


def reset_connection() -> None:
    tables.reset_connections()


WARM_OPERATIONS = ("GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
                   "TransactWriteItems")


def warm() -> None:
    """Create the shared DynamoDB client, its service model and operation models, and every model's
    table connection now (at import / composition) rather than inside the first request (~70 ms of
    a cold start was botocore loading the model on the first call). No request is sent."""
    client = connection().client
    for name in WARM_OPERATIONS:
        client.meta.service_model.operation_model(name)
    for model in tables.ALL_MODELS:
        model._get_connection()


def write() -> TransactWrite:
    return TransactWrite(connection=connection())


def read() -> TransactGet:
    return TransactGet(connection=connection())


def is_conflict(err: TransactWriteError) -> bool:
    """A cancelled transaction whose conditions (or a concurrent transaction) failed."""
    return err.cause_response_code in ("TransactionCanceledException", "TransactionConflictException")


def is_write_conflict(err: BaseException) -> bool:
    """Another writer won: a cancelled transaction or a unit of work's failed expectation, a failed
    condition of a single put, update or delete, or a write that already ran out of retries."""
    if isinstance(err, Contention | WriteConflict):
        return True
    if isinstance(err, TransactWriteError):
        return is_conflict(err)
    if isinstance(err, PutError | UpdateError | DeleteError):
        return err.cause_response_code == "ConditionalCheckFailedException"
    return False


def lost_race(err: Exception) -> bool:
    """A commit that another writer beat: worth loading and deciding again."""
    return isinstance(err, WriteConflict) or (isinstance(err, TransactWriteError) and is_conflict(err))


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
