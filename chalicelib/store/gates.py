"""Queues in front of hot records, within one process (the threads of `imbill serve`, a worker).

A retried write (port.with_retries) that lost a race on a record waits its turn at that
record's gate before it decides again, instead of racing every other thread of the process that
lost on it too: the threads take turns in arrival order, and each turn starts from the record as
the previous turn committed it (`image`), so a turn is one request when no other process wrote
the record meanwhile. A gate only orders attempts: every commit keeps its own conditions (another
process, or a writer that did not lose, is caught by them as before), so a gate never decides
what is written. A gate exists while a thread holds it or waits for it; one thread holds at most
one gate (a retried write inside a turn does not queue), so gates cannot deadlock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

NO_IMAGE: Any = object()  # the gate has seen no commit of its record


@dataclass
class Gate:
    owned: bool = False
    users: int = 0  # the holder and the waiters
    waiters: deque[threading.Event] = field(default_factory=deque)
    image: Any = NO_IMAGE  # the record as this process last committed it
    image_at: float = 0.0  # when (time.monotonic())


_LOCK = threading.Lock()
_GATES: dict[Any, Gate] = {}
_HOLDING = threading.local()


def holding() -> bool:
    """This thread holds a gate (it does not queue at another one)."""
    return bool(getattr(_HOLDING, "on", False))


def enter(key: Any, timeout: float) -> Gate | None:
    """Wait (at most `timeout` seconds) for the turn at `key`'s gate; None when it did not come."""
    with _LOCK:
        gate = _GATES.setdefault(key, Gate())
        gate.users += 1
        if not gate.owned:
            gate.owned = True
            _HOLDING.on = True
            return gate
        turn = threading.Event()
        gate.waiters.append(turn)
    turn.wait(max(timeout, 0.0))
    with _LOCK:
        if turn.is_set():  # handed over (perhaps just as the wait timed out)
            _HOLDING.on = True
            return gate
        gate.waiters.remove(turn)
        _drop(key, gate)
    return None


def leave(key: Any, gate: Gate) -> None:
    """End this thread's turn: the next waiter's begins (first come, first served)."""
    with _LOCK:
        _HOLDING.on = False
        if gate.waiters:
            gate.waiters.popleft().set()  # stays owned: handed over
        else:
            gate.owned = False
        _drop(key, gate)


def in_use(key: Any) -> bool:
    """Some thread holds or waits for `key`'s gate."""
    return key in _GATES


def active() -> bool:
    """Some gate is in use (else there is nothing to remember)."""
    return bool(_GATES)


def committed(images: dict[Any, Any]) -> None:
    """Records this process just committed (key -> stored image): a gate in use remembers its own."""
    now = time.monotonic()
    with _LOCK:
        for key, image in images.items():
            gate = _GATES.get(key)
            if gate is not None:
                gate.image, gate.image_at = image, now


def _drop(key: Any, gate: Gate) -> None:
    gate.users -= 1
    if gate.users == 0:
        del _GATES[key]
