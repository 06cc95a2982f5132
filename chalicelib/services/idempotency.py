"""Idempotency-Key: the first response is recorded in the same transaction as the money move."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from chalicelib.domain.errors import Conflict, InvalidRequest
from chalicelib.services.context import Ctx
from chalicelib.store.dynamodb.models import IdempotencyModel
from chalicelib.store.port import Contention, UnitOfWork, with_retries

Response = tuple[int, dict[str, Any]]
Result = TypeVar("Result")
Answer = Callable[[Result], Response]  # the API's rendering of a use case's result (status, JSON)


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
    body = zlib.decompress(record.body_z) if record.body_z is not None else record.body
    return int(record.status_code), json.loads(body)


def replayed(uow: UnitOfWork, idem: Idem) -> Response | None:
    """The first response to this key, if there was one."""
    return check(uow.idempotency.get(idem.record_key), idem) if idem.key is not None else None


def remember(uow: UnitOfWork, idem: Idem, response: Response, now: datetime, ttl_hours: int) -> None:
    """Record the response in the unit of work's commit (only if no other request recorded one)."""
    if idem.key is None:
        return
    uow.idempotency.add(IdempotencyModel(
        idem.record_key,
        request_hash=idem.request_hash,
        status_code=response[0],
        body_z=zlib.compress(json.dumps(response[1], separators=(",", ":")).encode(), 9),
        created_at=now,
        expires=now + timedelta(hours=ttl_hours),
    ))


def answer_once(uow_factory: Callable[[], UnitOfWork], idem: Idem, now: datetime, ttl_hours: int,
                act: Callable[[UnitOfWork], Result], answer: Answer[Result]) -> Response:
    """Act at most once per key: `act` loads through the unit of work and registers its writes (it
    may raise a BillingError, which writes nothing and records nothing); `answer` renders its
    result, recorded in that same commit; a retry with the key answers it without acting again.
    A conflicting writer makes the whole attempt run again from the top."""

    def attempt() -> Response:
        with uow_factory() as uow:
            done = replayed(uow, idem)
            if done is not None:
                return done
            response = answer(act(uow))
            uow.answered(response[1])  # the data of the change's event, when it left it to the answer
            remember(uow, idem, response, now, ttl_hours)
            uow.commit()
        return response

    return run_with(uow_factory, idem, attempt)


def once_in(ctx: Ctx, idem: Idem, act: Callable[[UnitOfWork], Result], answer: Answer[Result]) -> Response:
    """:func:`answer_once` in the use case's unit of work, at its instant, with the catalog's TTL."""
    return answer_once(ctx.uow, idem, ctx.now, ctx.catalog.lifecycle("idempotency_ttl_hours"), act, answer)


def run_with(uow_factory: Callable[[], UnitOfWork], idem: Idem, attempt: Callable[[], Response]) -> Response:
    """Run an attempt with optimistic retries; a lost race on the key answers the winner's response."""
    try:
        return with_retries(attempt)  # again while another writer wins (WriteConflict)
    except Contention:
        with uow_factory() as uow:
            done = replayed(uow, idem)
        if done is not None:
            return done
        raise
