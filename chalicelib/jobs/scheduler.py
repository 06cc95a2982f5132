"""Running the scheduled instants locally, in one order, once: the local scheduler of `imbill serve`
and the test clock's moves share it.

Deployed, EventBridge fires each job (app.py's @app.schedule). Locally, the instants between the
stored mark and a target run through `catch_up`: a scheduler thread calls it every few seconds with
the clock's now, and a test-clock move with its target. The mark is an instant whose runs, and all
before, are done: it moves (and the test clock with it) to the last run that acted every few
seconds of a move (with the lease's renewal: one write, not one per run), when a run fails, and at
the end. A process killed mid-move resumes after the mark, at most those few seconds of runs
before the kill, which run again and find their work done (every job's step is idempotent: bill
keys, due times moved with the effect); whatever comes next (the scheduler, or the next move)
first finishes the interrupted instants, in time order, before anything later.

Only one catch-up runs at a time: a lock in the process, and a lease on the mark's item across
processes (taken with a conditional write, renewed by every mark advance, released at the end). A
killed holder's lease is taken over as soon as it is known dead (its owner names its host and
process id: a process of this host that no longer exists); one on another host lapses after
LEASE_SECONDS."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.domain.calendar import iso
from chalicelib.domain.errors import Busy  # another process holds the lease: nothing changed
from chalicelib.gate import MOVES
from chalicelib.jobs.runner import Moved, heartbeats, run_between
from chalicelib.periodic import Periodic
from chalicelib.readmodels import job_runs
from chalicelib.services.context import Contexts
from chalicelib.store.dynamodb import plumbing
from chalicelib.store.dynamodb.models import MetaModel

log = logging.getLogger("imbill.scheduler")
MARK = "scheduler-mark"
LEASE_SECONDS = 60  # renewed by each mark advance and every few seconds of a long move
_LOCK = threading.Lock()
wall: Callable[[], float] = time.time  # the lease's liveness clock (never billing time)


def get_mark() -> datetime | None:
    try:
        value = MetaModel.get(MARK, consistent_read=True).value
    except MetaModel.DoesNotExist:
        return None
    return datetime.fromisoformat(value) if value else None


def _holder_is_dead(owner: str | None) -> bool:
    """Whether the lease's holder is known to be gone: a process of this host whose id no longer
    exists (killed mid-move). A holder elsewhere, or alive, keeps its lease until it lapses."""
    host, _, rest = (owner or "").rpartition("/")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it exists (another user's)
        return False
    return False


class _Lease:
    def __init__(self, clock_item: str | None) -> None:
        self.owner = f"{socket.gethostname()}/{os.getpid()}:{uuid.uuid4().hex}"  # host/pid:nonce
        self.clock_item = clock_item  # the stored test clock, moved with the mark (None: a real clock)
        self.acted: datetime | None = None  # the last run that acted since the mark was written

    def note(self, at: datetime) -> None:
        """A run at `at` acted: the mark moves there at the next `save`."""
        self.acted = at

    def save(self, *, release: bool = False) -> None:
        """The mark (and the test clock) at the last run that acted, renewing (or releasing) the lease."""
        at, self.acted = self.acted, None
        if at is not None:
            self.advance(at, release=release)
        elif release:
            self.release()
        else:
            self.renew()

    def take(self) -> None:
        """The lease when it is free or lapsed, or when its holder is known dead (a process of this
        host that no longer exists: taken over at once instead of after LEASE_SECONDS)."""
        now = wall()
        actions: list[Action] = [MetaModel.lease_owner.set(self.owner), MetaModel.lease_until.set(now + LEASE_SECONDS)]
        try:
            MetaModel(MARK).update(
                actions=actions, condition=MetaModel.lease_until.does_not_exist() | (MetaModel.lease_until < now))
            return
        except UpdateError as err:
            if err.cause_response_code != "ConditionalCheckFailedException":
                raise
        busy = Busy("scheduled jobs are running (another clock move or the scheduler); try again")
        try:
            holder = MetaModel.get(MARK, consistent_read=True).lease_owner
        except MetaModel.DoesNotExist:
            holder = None
        if holder is None or not _holder_is_dead(holder):
            raise busy
        try:
            MetaModel(MARK).update(actions=actions, condition=MetaModel.lease_owner == holder)
        except UpdateError as err:
            raise busy from err
        log.warning("took over the scheduler's lease of %s (that process is gone)", holder)

    def advance(self, at: datetime, *, release: bool = False, beats: Sequence[job_runs.Beat] = (),
                tz: ZoneInfo | None = None) -> None:
        """The mark (and the test clock) at `at`, in one transaction, while the lease is ours; the
        move's job heartbeats (readmodels/job_runs.py) ride in the same transaction."""
        mark = MetaModel.lease_owner == self.owner
        actions: list[Action] = [MetaModel.value.set(at.astimezone(UTC).isoformat())]
        if release:
            actions += [MetaModel.lease_owner.remove(), MetaModel.lease_until.remove()]
        else:
            actions.append(MetaModel.lease_until.set(wall() + LEASE_SECONDS))
        try:
            with plumbing.write() as tx:
                tx.update(MetaModel(MARK), actions=actions, condition=mark)
                if self.clock_item is not None:
                    tx.save(MetaModel(self.clock_item, value=at.astimezone(UTC).isoformat()))
                for beat in beats:
                    assert tz is not None
                    job_runs.beat_in(tx, beat, tz)
        except TransactWriteError as err:
            if plumbing.is_conflict(err):
                raise Busy(f"the scheduler's lease was lost at {iso(at)} (held past {LEASE_SECONDS} s)") from err
            raise

    def renew(self) -> None:
        try:
            MetaModel(MARK).update(actions=[MetaModel.lease_until.set(wall() + LEASE_SECONDS)],
                                   condition=MetaModel.lease_owner == self.owner)
        except UpdateError as err:
            raise Busy("the scheduler's lease was lost") from err

    def release(self) -> None:
        try:
            MetaModel(MARK).update(actions=[MetaModel.lease_owner.remove(), MetaModel.lease_until.remove()],
                                   condition=MetaModel.lease_owner == self.owner)
        except UpdateError:
            log.warning("the scheduler's lease was lost before its release")


@contextmanager
def _leased(clock_item: str | None) -> Iterator[_Lease]:
    with _LOCK:
        lease = _Lease(clock_item)
        lease.take()
        try:
            yield lease
        except BaseException:
            try:  # the mark at the last run that acted: the next catch-up resumes after it
                lease.save(release=True)
            except Exception:  # noqa: BLE001 - the run's error is the one to raise
                log.exception("the scheduler's mark could not be saved; the next catch-up resumes before it")
                lease.release()
            raise


def catch_up(until: datetime, contexts: Contexts, clock_item: str | None = None, *, since: datetime | None = None,
             run_jobs: bool = True) -> Moved:
    """Run every scheduled instant between the mark (`since` if there is none yet) and `until`,
    in time order, then leave the mark (and the test clock `clock_item`, when given) at `until`.
    `run_jobs=False` moves both without running anything (the instants between are not run
    later either)."""
    with MOVES.move() if clock_item is not None else nullcontext(), _leased(clock_item) as lease:
        mark = get_mark() or since
        moved = Moved()
        beats: list[job_runs.Beat] = []
        if mark is not None and until > mark and run_jobs:
            started = job_runs.wall_now()
            moved = run_between(mark, until, contexts, on_acted=lease.note, on_progress=lambda _t: lease.save())
            job_runs.record_all(moved.jobs_run, started)
            beats = heartbeats(mark, until, moved.jobs_run)
        lease.advance(max(until, mark) if mark is not None else until, release=True, beats=beats, tz=contexts.tz)
    return moved


def tick(now: datetime, contexts: Contexts) -> int:
    """The scheduler's beat: run what is due between the mark and `now`; answer how many runs acted."""
    mark = get_mark()
    if mark is not None and now <= mark:
        return 0  # nothing to run: no write
    moved = catch_up(now, contexts)
    for r in moved.jobs_run:
        log.info("job %s at %s: %s", r["job"], r["at"], r["summary"])
    return len(moved.jobs_run)


class LocalScheduler(Periodic):
    name = "imbill-scheduler"
    failure = "scheduled run failed"

    def __init__(self, contexts: Contexts, interval: float = 5.0) -> None:
        super().__init__(interval, log)
        self.contexts = contexts  # the composition's: its clock says when now is

    def beat(self) -> None:
        try:
            tick(self.contexts.clock.now(), self.contexts)
        except Busy:
            log.debug("scheduled runs are in progress elsewhere; next beat")


def start_local_scheduler(contexts: Contexts, interval: float = 5.0) -> LocalScheduler:
    return LocalScheduler(contexts, interval).start()
