"""Idempotency-Key: the first response is recorded in the same transaction as the money move."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib.domain.errors import Conflict, InvalidRequest
from chalicelib.store import uow
from chalicelib.store.models import IdempotencyModel

Response = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Idem:
    key: str | None
    scope: str  # who + which route, so two callers' keys never collide
    request_hash: str

    @staticmethod
    def of(key: str | None, scope: str, body: Any) -> Idem:
        if key is not None and not (1 <= len(key) <= 255):
            raise InvalidRequest("Idempotency-Key must be 1 to 255 characters")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
        return Idem(key=key, scope=scope, request_hash=digest)

    @property
    def record_key(self) -> str:
        return f"{self.scope}#{self.key}"


NONE = Idem(key=None, scope="", request_hash="")


def check(record: IdempotencyModel | None, idem: Idem) -> Response | None:
    """The stored first response for a retry; 409 when the same key came with another body."""
    if record is None:
        return None
    if record.request_hash != idem.request_hash:
        raise Conflict("this Idempotency-Key was used with a different request", code="idempotency_key_reused")
    return int(record.status_code), json.loads(record.body)


def replay(idem: Idem) -> Response | None:
    if idem.key is None:
        return None
    try:
        return check(IdempotencyModel.get(idem.record_key, consistent_read=True), idem)
    except IdempotencyModel.DoesNotExist:
        return None


def fetch(tg: TransactGet, idem: Idem) -> Any:
    """Add the record to a TransactGet; resolve the answer with :func:`resolve`."""
    return tg.get(IdempotencyModel, idem.record_key) if idem.key is not None else None


def resolve(future: Any, idem: Idem) -> Response | None:
    if future is None:
        return None
    try:
        return check(future.get(), idem)
    except IdempotencyModel.DoesNotExist:
        return None


def record(tx: TransactWrite, idem: Idem, response: Response, now: datetime, ttl_hours: int) -> None:
    if idem.key is None:
        return
    item = IdempotencyModel(
        idem.record_key,
        request_hash=idem.request_hash,
        status_code=response[0],
        body=json.dumps(response[1]),
        created_at=now,
        expires=now + timedelta(hours=ttl_hours),
    )
    tx.save(item, condition=IdempotencyModel.key.does_not_exist())


def once(idem: Idem, now: datetime, ttl_hours: int, act: Callable[[TransactWrite], Response]) -> Response:
    """Act at most once per key: `act` loads, decides and adds its writes to the transaction (it
    may raise a BillingError, which writes nothing and records nothing); the first response is
    recorded in that same transaction, and a retry with the key answers it without acting again.
    A conflicting writer makes the whole attempt run again from the top."""

    def attempt() -> Response:
        done = replay(idem)
        if done is not None:
            return done
        with uow.write() as tx:
            response = act(tx)
            record(tx, idem, response, now, ttl_hours)
        return response

    return run(idem, attempt)


def run(idem: Idem, attempt: Callable[[], Response]) -> Response:
    """Run an attempt with optimistic retries; a lost race on the key answers the winner's response."""
    try:
        return uow.with_retries(attempt)
    except (TransactWriteError, uow.Contention):
        done = replay(idem)
        if done is not None:
            return done
        raise
