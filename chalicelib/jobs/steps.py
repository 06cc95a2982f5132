"""The one step runner of every job: a run applies a step to each due item and never stops half-way.

Per item the step decides and commits (one item, its own transactions). When another writer wins
(a write conflict) the item is read again and the step decides afresh (plumbing.retry_step, bounded).
An item that still fails is logged and counted in the run's `failed`; nothing of its failed
attempt was written, so it is still due at the next run. BillingErrors (the item cannot be acted
on, e.g. it was reclaimed meanwhile) count as `skipped`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from chalicelib.domain.errors import BillingError
from chalicelib.services import notifications
from chalicelib.services.context import page_reads
from chalicelib.store.dynamodb import plumbing

T = TypeVar("T")
Summary = dict[str, int]
Outcome = str | Summary  # one outcome of the item, or counts (e.g. {"accounts": 1, "stopped": 2})

log = logging.getLogger("imbill.jobs")
_failures: ContextVar[list[str] | None] = ContextVar("job_failures", default=None)


@contextmanager
def counting_failures() -> Iterator[list[str]]:
    """Collect the items that failed in the steps run inside (one job run)."""
    failures: list[str] = []
    token = _failures.set(failures)
    try:
        yield failures
    finally:
        _failures.reset(token)


def same(item: T) -> T:
    """Reload for items whose step reads everything it decides on afresh."""
    return item


def describe(item: object) -> str:
    """A model item by its table and key; a grouped item (key, ...) by its key."""
    if isinstance(item, tuple):
        return str(item[0])
    keys = getattr(item, "_get_keys", None)
    return f"{type(item).__name__}{keys()}" if callable(keys) else repr(item)


def run_each(items: Iterable[T], step: Callable[[T], Outcome], reload: Callable[[T], T] = same) -> Summary:
    """Apply `step` to each item; answer the counts of the outcomes. Never raises for an item. The
    notifications' delivery marks of the page are written together (notifications.marks_batched), and
    what the steps only read is read once for the page (context.page_reads)."""
    with notifications.marks_batched(), page_reads():
        return _run_each(items, step, reload)


def _run_each(items: Iterable[T], step: Callable[[T], Outcome], reload: Callable[[T], T]) -> Summary:
    counts: Summary = {}
    for item in items:
        try:
            outcome = plumbing.retry_step(item, step, reload)
        except plumbing.Contention as err:
            _failed(describe(item), err)
            continue
        except BillingError:
            outcome = "skipped"
        except Exception as err:  # noqa: BLE001 - one item's error never stops the run; it stays due
            _failed(describe(item), err)
            continue
        add(counts, {outcome: 1} if isinstance(outcome, str) else outcome)
    return counts


def add(counts: Summary, more: Summary) -> Summary:
    """Add `more` into `counts` (in place) and answer it."""
    for key, n in more.items():
        counts[key] = counts.get(key, 0) + n
    return counts


def _failed(what: str, err: Exception) -> None:
    log.error("job step failed for %s (it stays due for the next run): %s", what, err,
              exc_info=not isinstance(err, plumbing.Contention))
    failures = _failures.get()
    if failures is not None:
        failures.append(what)
