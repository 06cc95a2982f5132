"""The one clock. Logic takes `now` from here (or from a job's scheduled instant), never the wall."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that says what it is told (unit tests, job runs as of an instant)."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now


class StoredClock:
    """The test clock: kept in the store so a restart does not reset it; starts at real time."""

    NAME = "test-clock"

    def __init__(self, fallback: Clock | None = None) -> None:
        self._fallback = fallback or SystemClock()

    def now(self) -> datetime:
        from chalicelib.store.models import MetaModel

        try:
            item = MetaModel.get(self.NAME, consistent_read=True)
            assert item.value is not None
            return datetime.fromisoformat(item.value)
        except MetaModel.DoesNotExist:
            start = self._fallback.now().replace(microsecond=0)
            try:
                MetaModel(self.NAME, value=start.isoformat()).save(condition=MetaModel.name.does_not_exist())
            except Exception:  # noqa: BLE001 - another process initialised it first
                return self.now()
            return start

    def set(self, now: datetime) -> None:
        from chalicelib.store.models import MetaModel

        MetaModel(self.NAME, value=now.astimezone(UTC).isoformat()).save()


def service_clock(test_clock: bool) -> Clock:
    return StoredClock() if test_clock else SystemClock()


class ClockMoving(Exception):
    """A write waited longer than it may for a move of the test clock (nothing was written)."""


class MoveGate:
    """Keeps the ledger's instants in order while the test clock moves (in one process: the local
    server's). A write request holds it shared from reading the clock to its commit; a move holds it
    alone. So a write that came first commits before the move's jobs run, and a write that comes
    during a move waits for it and is stamped with the clock the move left, never with a stale one
    (a top-up at 03-04 after the bill of 03-07). A waiting move goes before writes that come after
    it; a write that waits longer than `timeout` seconds gives up (the caller answers 503 busy)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._writes = 0
        self._moving = False
        self._moves_waiting = 0

    @contextmanager
    def write(self, timeout: float) -> Iterator[None]:
        with self._cond:
            if not self._cond.wait_for(lambda: not self._moving and not self._moves_waiting, timeout):
                raise ClockMoving(f"the test clock is moving (waited {timeout:g} s); nothing was written")
            self._writes += 1
        try:
            yield
        finally:
            with self._cond:
                self._writes -= 1
                self._cond.notify_all()

    @contextmanager
    def move(self) -> Iterator[None]:
        with self._cond:
            self._moves_waiting += 1
            try:
                self._cond.wait_for(lambda: not self._moving and not self._writes)
            finally:
                self._moves_waiting -= 1
            self._moving = True
        try:
            yield
        finally:
            with self._cond:
                self._moving = False
                self._cond.notify_all()


MOVES = MoveGate()  # the process's: moves of its stored test clock and the writes stamped by it
