"""The gates of hot records (chalicelib/store/gates.py): turns in arrival order, a wait bounded by
the write's budget, and a turn that starts from the previous turn's commit only when that commit
came after the write began (issue 21 item 4)."""

from __future__ import annotations

import threading
import time

import pytest

from chalicelib.store import gates
from chalicelib.store.dynamodb.models import AccountModel
from chalicelib.store.port import Carry, Contention

KEY = (AccountModel, ("acme",))


def test_threads_waiting_at_a_gate_get_their_turns_in_arrival_order() -> None:
    first = gates.enter(KEY, 1.0)
    assert first is not None and gates.holding()
    order: list[int] = []

    def wait_turn(i: int) -> None:
        gate = gates.enter(KEY, 5.0)
        assert gate is not None
        order.append(i)
        gates.leave(KEY, gate)

    threads = []
    for i in range(4):
        t = threading.Thread(target=wait_turn, args=(i,))
        t.start()
        threads.append(t)
        while len(first.waiters) < i + 1:  # queued before the next one arrives
            time.sleep(0.001)
    gates.leave(KEY, first)
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3]
    assert not gates.holding() and not gates.in_use(KEY)  # the gate goes with its last user


def test_a_turn_that_does_not_come_within_the_budget_is_contention_and_leaves_no_trace() -> None:
    holder = gates.enter(KEY, 1.0)
    assert holder is not None
    outcome: list[BaseException] = []

    def late() -> None:
        now = time.monotonic()
        try:
            Carry(started=now, deadline=now + 0.05).queue(KEY)
        except Contention as err:
            outcome.append(err)

    t = threading.Thread(target=late)
    t.start()
    t.join(5)
    assert len(outcome) == 1 and len(holder.waiters) == 0
    gates.leave(KEY, holder)
    assert not gates.in_use(KEY)


@pytest.mark.parametrize("committed_after_start", [True, False])
def test_a_turn_starts_from_the_previous_turns_commit_only_if_it_came_after_the_write_began(
        committed_after_start: bool) -> None:
    holder = gates.enter(KEY, 1.0)
    assert holder is not None
    image = {"account_id": {"S": "acme"}, "version": {"N": "7"}}  # the account as the holder committed it
    started = time.monotonic()
    if not committed_after_start:
        started += 60  # this write began after that commit: another process may have written since
    carry = Carry(started=started, deadline=time.monotonic() + 5)
    waiter = threading.Thread(target=carry.queue, args=(KEY,))
    waiter.start()
    while len(holder.waiters) < 1:
        time.sleep(0.001)
    gates.committed({KEY: image})  # the holder's commit
    gates.leave(KEY, holder)
    waiter.join(5)
    assert carry.turn is not None
    assert (KEY in carry.known) is committed_after_start
    if committed_after_start:
        assert carry.known[KEY] == image
    carry.leave()
    assert not gates.in_use(KEY)
