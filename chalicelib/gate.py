"""The test clock's moves and the writes it stamps, kept in order within one process (the local
server's): nothing here reads or writes the store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


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
