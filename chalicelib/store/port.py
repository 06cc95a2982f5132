"""The unit of work and its repositories: what services see of storage (Cosmic Python's shape).

A service opens a unit of work, loads records through its repositories, registers the writes
with their expectation, and commits them all or nothing:

- ``repo.add(item)``: create only if no item has its key;
- ``repo.save(item)``: write only over the version that was read (the item's ``version`` is
  bumped; another writer in between makes the commit fail);
- ``repo.guard(item)``: write nothing, but fail the commit unless the item still has the
  version that was read;
- ``repo.put(item)``: write it whatever is stored; ``repo.claim(item, attr)``: write it only if the
  stored item has no ``attr`` yet (a voucher is used by one order);
- ``usage.count(counts)``: add to counters (the record is created if absent), optionally only
  while a counter stays within a limit; ``periods.check_open(marker, period)``: write nothing, but
  fail the commit once the period is closed.

A failed expectation is :class:`WriteConflict` (nothing was written); :func:`with_retries` runs
the whole load-decide-commit attempt again, within a budget, then answers :class:`Contention`.
Records are the PynamoDB model instances (plain attribute holders here: services never call
their ``get``/``query``/``save``). The jobs read what is due through ``due`` (a due index's items
whose instant has come, its earliest instant). Implementations: ``store/dynamodb/adapter.py`` (one
TransactWriteItems per commit) and ``tests/fakes/uow.py`` (in memory, for service tests).
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from chalicelib.domain.errors import Busy, NotFound
from chalicelib.store import gates

T = TypeVar("T")
R = TypeVar("R")  # a record (a model instance)


Image = dict[str, Any] | None  # a record as stored (its serialized attributes), None: absent
ItemKey = tuple[type, tuple[Any, ...]]  # (model, primary key)


class WriteConflict(Exception):
    """A write's expectation failed at commit (another writer won): nothing was written.
    `failed`: the records whose expectation failed, when the store tells (a repository reads them);
    `current`: the stored image of those of them the store answered with (the item that beat it);
    `held`: the records whose expectation the store said held (None: every one not failed)."""

    failed: tuple[Any, ...] = ()
    current: dict[ItemKey, Image] = {}
    held: tuple[Any, ...] | None = None


class Contention(Busy):
    """A write kept losing to concurrent writers until the retry budget ran out: nothing was
    written; the API answers 503 `busy` with Retry-After, a job counts the item as failed."""


class Expect(Enum):
    ABSENT = "absent"  # create only if absent
    VERSION = "version"  # write over the version read
    GUARD = "guard"  # no write; the version read must still be there
    ANY = "any"  # write whatever is stored (records that only their writer changes: orders it ends)
    UNSET = "unset"  # write only if the stored item has no `attr` yet (a voucher used once)
    BELOW = "below"  # no write; the stored `attr` is unset (or no item) or below `value` (a period still open)
    COUNT = "count"  # add `value` (Counts) to the item's counters, creating it if absent
    ADVANCE = "advance"  # write it only if the stored `attr` is unset (or no item) or <= `value` (a close)


@dataclass(frozen=True)
class Counts:
    """Units to add to an app's usage record of a local month ("2026-05": "mau" and the monthly meters
    by "<plugin>.<meter>") or day ("2026-05-10": "push.calls"); the record is created if absent and
    carries its owner and expiry. `within` (counter, limit): commit only while the stored counter
    (unset counts as room) plus what is added stays within the limit."""

    sdkappid: int
    period: str
    account_id: str
    expires: datetime
    add: dict[str, int]
    within: tuple[str, int] | None = None


@dataclass(frozen=True)
class Write:
    expect: Expect
    item: Any
    version: int | None = None  # the version read (VERSION, GUARD)
    attr: str | None = None  # the attribute that must still be unset (UNSET) or below `value` (BELOW)
    value: Any = None  # the bound (BELOW), the Counts (COUNT)


def key_of(item: Any) -> tuple[Any, ...]:
    """An item's primary key: (hash,) or (hash, range)."""
    model = type(item)
    hash_key = getattr(item, model._hash_keyname)
    range_name = model._range_keyname
    return (hash_key,) if range_name is None else (hash_key, getattr(item, range_name))


@dataclass(frozen=True)
class Page(Generic[R]):
    """Records of one partition, oldest first; `next_token` is null on the last page."""

    items: list[R]
    next_token: str | None


class Repository(ABC, Generic[R]):
    """One table's records within a unit of work."""

    def __init__(self, model: type[R], uow: UnitOfWork) -> None:
        self.model = model
        self._uow = uow

    def get(self, *key: Any, consistent: bool = True) -> R | None:
        """The record with this key, or None. Within a retried write (:func:`with_retries`), a
        consistent read answers what the previous attempt's failed commit showed still current
        (see :class:`Carry`) without a request, and a read of a record other threads of the
        process are queued at (store/gates.py) first waits its turn there."""
        carry = self._uow.carry
        if carry is None or not consistent:
            return self._load(*key, consistent=consistent)
        at = (self.model, tuple(key))
        carry.queue(at, only_if_hot=True)
        if at in carry.known:
            image = carry.known[at]
            item = None if image is None else self.model.from_raw_data(image)  # type: ignore[attr-defined]
        else:
            item = self._load(*key, consistent=consistent)
            image = None if item is None else item.serialize()  # type: ignore[attr-defined]
        self._uow.reads[at] = image  # as read: the use case may change the record it answers
        return item

    @abstractmethod
    def _load(self, *key: Any, consistent: bool = True) -> R | None:
        """The record with this key as stored, or None (one request)."""

    @abstractmethod
    def page(self, hash_key: Any, limit: int, token: str | None, consistent: bool = False) -> Page[R]:
        """One page of a partition in key order; `token` is the previous page's `next_token`."""

    @abstractmethod
    def many(self, keys: Iterable[tuple[Any, ...]], consistent: bool = False) -> list[R]:
        """The records of these keys (each once) that exist, in key order; 100 keys a request."""

    @abstractmethod
    def page_between(self, hash_key: Any, attr: str, start: datetime | None, end: datetime | None, limit: int,
                     token: str | None, *, newest_first: bool = False, consistent: bool = False) -> Page[R]:
        """One page of a partition in key order (or the reverse), of the records whose instant
        `attr` is in [start, end) (either bound open when None). Like a DynamoDB filter, a page
        may hold fewer than `limit` records and still have a next_token: follow it to the end."""

    def add(self, item: R) -> None:
        self._uow.register(Write(Expect.ABSENT, item))

    def save(self, item: R) -> None:
        old = int(item.version)  # type: ignore[attr-defined]
        item.version = old + 1  # type: ignore[attr-defined]
        self._uow.register(Write(Expect.VERSION, item, old))

    def guard(self, item: R) -> None:
        self._uow.register(Write(Expect.GUARD, item, int(item.version)))  # type: ignore[attr-defined]

    def put(self, item: R) -> None:
        """Write the item whatever is stored (no expectation)."""
        self._uow.register(Write(Expect.ANY, item))

    def claim(self, item: R, attr: str) -> None:
        """Write the item only if the stored one has no `attr` yet (else the commit fails)."""
        self._uow.register(Write(Expect.UNSET, item, attr=attr))


class AppRepository(Repository[R]):
    """Apps: by sdkappid (another account's app is not found), by account, and new ids."""

    def find(self, sdkappid: int, owner: str | None = None, consistent: bool = True) -> R:
        """The app; NotFound when there is none or `owner` (a customer's account) does not own it."""
        app = self.get(sdkappid, consistent=consistent)
        if app is None or (owner is not None and app.account_id != owner):  # type: ignore[attr-defined]
            raise NotFound(f"app {sdkappid} not found")
        return app

    @abstractmethod
    def of_account(self, account_id: str, limit: int, token: str | None) -> Page[R]:
        """One page of the account's apps by sdkappid."""

    def each_of_account(self, account_id: str) -> Iterator[R]:
        """Every app of the account, page by page."""
        token: str | None = None
        while True:
            found = self.of_account(account_id, 100, token)
            yield from found.items
            token = found.next_token
            if token is None:
                return

    @abstractmethod
    def push_billing(self) -> list[R]:
        """The apps in the push-billing index (every shard; eventually consistent)."""

    @abstractmethod
    def next_sdkappid(self) -> int:
        """A new sdkappid from the counter (taken at once, outside the commit: never reused)."""


class BillRepository(Repository[R]):
    """Posted bills of an account (its partition, by `<period>#<kind>`)."""

    @abstractmethod
    def of_period(self, account_id: str, period: str | None, limit: int, token: str | None) -> Page[R]:
        """One page of the account's bills, of `period` exactly when given (`2026-05`, `2026-05-10`)."""


class NotificationRepository(Repository[R]):
    """The outbox: notifications are added in the deciding commit, their delivery marks written after."""

    @abstractmethod
    def mark(self, items: list[R]) -> None:
        """Write delivery marks at once, outside any commit (the move is committed already)."""

    @abstractmethod
    def delete_of_app(self, sdkappid: int, keep: Callable[[R], bool]) -> int:
        """Delete the app's notifications at once, but those `keep` keeps; answers how many went."""

    @abstractmethod
    def lease(self, item: R, until: datetime) -> None:
        """Move a pending notification's retry time to `until` at once (the dispatcher's claim), only
        while the stored one still has the `send_due_at` of this copy: else WriteConflict (also
        when it was deleted)."""


class OrderRepository(Repository[R]):
    """Orders of an app (its partition, oldest first)."""

    @abstractmethod
    def of_app(self, sdkappid: int) -> list[R]:
        """Every order of the app, read consistently."""

    @abstractmethod
    def unended(self, sdkappid: int, now: datetime) -> list[R]:
        """Orders of the app whose periods end after `now` (refunded ones included; one eventually
        consistent Query: what is in force, for reads that decide nothing)."""

    def running(self, sdkappid: int, product: str, now: datetime) -> list[R]:
        """Orders of a product whose periods have not all ended (the refundable ones)."""
        return [o for o in self.of_app(sdkappid)
                if o.product == product and not o.refunded and o.ends_at > now]  # type: ignore[attr-defined]


class UsageRepository(Repository[R]):
    """An app's usage counters: a record per local month and per local day (`period`)."""

    def count(self, counts: Counts) -> None:
        """Add to the record's counters in the commit (see Counts)."""
        self._uow.register(Write(Expect.COUNT, self.model(counts.sdkappid, counts.period), value=counts))  # type: ignore[call-arg]

    @abstractmethod
    def count_now(self, counts: Counts) -> R:
        """Add to the record's counters at once, outside any commit; answers the record after it."""

    @abstractmethod
    def of_month(self, sdkappid: int, month: str) -> list[R]:
        """The app's records of a month (the month's and its days'), strongly consistent; not the
        unbilled record of a reclaimed app."""

    @abstractmethod
    def by_month(self, month: str, shard: int | None, after_account: str | None) -> Iterator[R]:
        """The month records (unbilled ones too) of the accounts of a shard (None: of every shard,
        shard by shard) with usage in `month`, by account then app: the settlement's index,
        eventually consistent."""

    @abstractmethod
    def delete(self, items: Iterable[R]) -> int:
        """Delete the records at once (not in a commit: data that goes); answers how many."""

    @abstractmethod
    def reclaim(self, sdkappid: int, unbilled: Callable[[str], bool]) -> int:
        """A reclaimed app's usage and user sets go; the records of the months for which
        `unbilled(month)` holds are kept as unbilled records (still listed by `by_month`, not by
        `of_month`) until the settlement deletes them. Answers the records deleted."""


class UserSetRepository(Repository[R]):
    """The users an app has seen in a local month (one record each: the exact MAU)."""

    @abstractmethod
    def seen(self, sdkappid: int, month: str, users: list[str], whole: bool = False) -> set[str]:
        """Which of `users` the month has recorded (strongly consistent): looked up by key or, with
        `whole` (a month of few users), the month's whole set read at once."""

    def see(self, sdkappid: int, month: str, user_id: str, expires: datetime) -> None:
        """Record the user in the commit, only if the month has not (else the commit fails and
        `lost` names the user)."""
        self.add(self.model.of(sdkappid, month, user_id, expires))  # type: ignore[attr-defined]

    def lost(self, err: WriteConflict) -> set[str]:
        """The users of a failed commit that the month had recorded already."""
        return {r.user_id for r in err.failed if isinstance(r, self.model)}  # type: ignore[attr-defined]


class PeriodRepository(Repository[R]):
    """Close markers: the last billed period of a kind (months, push days); they only move forward."""

    def closed_through(self, marker: str) -> str | None:
        """The last period the marker has closed (strongly consistent), None before the first."""
        item = self.get(marker)
        return None if item is None else item.value  # type: ignore[attr-defined, no-any-return]

    @abstractmethod
    def close(self, marker: str, period: str) -> None:
        """Close `period` and every earlier one at once (idempotent; never moves the marker back)."""

    def advance(self, marker: str, period: str) -> None:
        """Close `period` in the commit (the marker set to it); the commit fails if the marker is
        beyond it already (a later period closed), and writes the same value again if it is at it."""
        self._uow.register(Write(Expect.ADVANCE, self.model(marker, value=period), attr="value",  # type: ignore[call-arg]
                                 value=period))

    def check_open(self, marker: str, period: str) -> None:
        """Fail the commit if `period` is closed by then (nothing written)."""
        self._uow.register(Write(Expect.BELOW, self.model(marker), attr="value", value=period))  # type: ignore[call-arg]


# ---------------------------------------------------------------- renewal management (issue 18)
@dataclass(frozen=True)
class PackageFilter:
    """GET /v1/accounts/{id}/packages: expiry range [after, before), and exact product, region, mode."""

    after: datetime | None = None
    before: datetime | None = None
    product: str | None = None
    region: str | None = None
    renewal: str | None = None


EXPIRY_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: the index's keys sort as the instants


def expiry_key(expires_at: datetime, sdkappid: int, slot: str) -> str:
    return f"{expiry_stamp(expires_at)}#{sdkappid:015d}#{slot}"


def expiry_stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime(EXPIRY_STAMP)


class PackageRepository(Repository[R]):
    """Packages of an app (by sdkappid, slot) and of an account by expiry (the `by_expiry` index)."""

    @abstractmethod
    def by_expiry(self, account_id: str, where: PackageFilter, limit: int, token: str | None) -> Page[R]:
        """One page of the account's packages sorted by expiry (one Query of the index; the product,
        region and mode are filters on it: a page may hold fewer than `limit` with a next_token)."""


class BatchRepository(Repository[R]):
    """Renewal batches of an account, and the open ones (the `open_batches` index)."""

    @abstractmethod
    def open(self) -> list[R]:
        """Every batch with an item not yet applied (each shard; eventually consistent)."""
@dataclass(frozen=True)
class EventFilter:
    """What a listing of events keeps besides its index partition (filters, not key conditions)."""

    type: str | None = None
    account_id: str | None = None
    sdkappid: int | None = None
    actor: str | None = None  # the actor's sub
    api_only: bool = False  # only events caused by API calls (those with an actor_key)


class EventRepository(Repository[R]):
    """The events: by account, by UTC day and (API calls only) by actor; newest first."""

    @abstractmethod
    def newest(self, index: str, key: str, lo: str, hi: str, limit: int, token: str | None,
               where: EventFilter) -> Page[R]:
        """One page of the partition `key` of `index` (by_account, by_day, by_actor): the events
        with ids in [lo, hi] that `where` keeps, newest first (one Query; a page may hold fewer
        than `limit` items and still have a next_token)."""


class WebhookRepository(Repository[R]):
    """Webhook endpoints, by id and by owner (an account, or OPS_OWNER for the operator-wide feed)."""

    @abstractmethod
    def of_owner(self, owner: str) -> list[R]:
        """Every endpoint of the owner (deleted ones included), by id."""


class DeliveryRepository(Repository[R]):
    """Deliveries of events to an endpoint (its partition, by event id)."""

    @abstractmethod
    def due(self, now: datetime, limit: int) -> list[R]:
        """Pending deliveries whose next attempt is at or before `now`, oldest first (sparse index)."""

    @abstractmethod
    def lease(self, item: R, until: datetime) -> None:
        """Move a pending delivery's next attempt to `until` at once (the deliverer's claim), only
        while the stored one still has this copy's `next_attempt_at`: else WriteConflict."""


# ---------------------------------------------------------------- due work (the jobs)
@dataclass(frozen=True)
class DueIndex:
    """A sparse, sharded due-time index (docs/data-model.md): the items of `model` whose due instant
    `attr` is set, partitioned by the due shard written on them (`shard`) and sorted by `attr`. A job
    declares the one it works from (jobs/*.py)."""

    model: type[Any]
    name: str  # the index
    shard: str  # its partition key: the item's due shard
    attr: str  # its sort key: the due instant


class DuePage(Protocol):
    """Due items of one shard, iterated once; then `cursor` (JSON-able: it travels in a queue
    message) says where the next page starts, None when the shard is done."""

    @property
    def cursor(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


class DueRepository(ABC):
    """What the jobs act on: the items of a due index whose instant has come, shard by shard."""

    @abstractmethod
    def shards(self) -> range:
        """Every shard an item may have been written in."""

    @abstractmethod
    def page(self, index: DueIndex, at: datetime, shard: int, cursor: Any = None, limit: int | None = None) -> DuePage:
        """The items of `shard` due at or before `at` after `cursor` (None: from the start), at most
        `limit` (None: all of the shard), by due instant; iterated lazily (eventually consistent). An
        item acted on leaves the index, one that failed stays: the cursor (a position, not a filter)
        moves past both, so a page never takes the same item twice."""

    @abstractmethod
    def earliest(self, index: DueIndex) -> datetime | None:
        """The smallest due instant of the index (None: nothing is due, ever)."""

    def items(self, index: DueIndex, at: datetime) -> Iterator[Any]:
        """Every item due at or before `at`, shard by shard."""
        for shard in self.shards():
            yield from self.page(index, at, shard)


@dataclass
class Event:
    """The event of a change: `commit()` writes it as one more item of the change's transaction
    (so no event without its change, and no change without its event). `data` None: the answer
    of the request (set by :meth:`UnitOfWork.answered`, services/idempotency.py)."""

    type: str
    at: datetime
    actor: tuple[str, str]  # (role, sub)
    request_id: str | None = None
    account_id: str | None = None
    sdkappid: int | None = None
    data: dict[str, Any] | None = None


@dataclass
class Carry:
    """What a retried write (:func:`with_retries`) carries from a lost attempt to the next: the
    image of every record the attempt read whose expectation in the failed commit held (a version
    still the one read, a key still absent: the record was as read when the commit failed), and
    the current image of each record whose expectation failed when the store answered it
    (DynamoDB's ReturnValuesOnConditionCheckFailure). The next attempt reads those from here, so a
    lost race costs the one new commit instead of a read of every record again; whatever it
    decides from them is still written under the same expectations, so a record that moved since
    fails that commit in turn. `fresh`: the last failure answered the current image of every record
    that failed (the next attempt may go at once); `hot`: the record it lost on (one that is
    rewritten rather than created, when there is one), whose gate the next attempt queues at."""

    known: dict[ItemKey, Image] = field(default_factory=dict)
    fresh: bool = False
    hot: ItemKey | None = None
    started: float = 0.0  # time.monotonic() when the write began
    deadline: float = 0.0  # and past which no turn is waited for
    turn: tuple[ItemKey, gates.Gate] | None = None  # the gate this write holds
    committed: bool = False  # the write is done: what it reads now (after_commit work) waits for nobody

    def queue(self, at: ItemKey, only_if_hot: bool = False) -> bool:
        """Wait for the turn at `at`'s gate (with `only_if_hot`, only when other threads are in it);
        the record is then known as the previous turn committed it, if that was after this write
        began (an image from before could be older than what another process wrote since: a
        decision that commits nothing must not rest on it). Contention when the turn does not
        come before the deadline (nothing written). Answers whether the turn starts from the record
        as another thread of this process committed it (False: no thread here changed it, so
        whoever beat this write is another process)."""
        if (self.turn is not None or self.committed or gates.holding()
                or (only_if_hot and not gates.in_use(at))):
            return False
        gate = gates.enter(at, self.deadline - time.monotonic())
        if gate is None:
            raise Contention("the item is being changed by other requests; retry shortly")
        self.turn = (at, gate)
        handed = gate.image is not gates.NO_IMAGE and gate.image_at >= self.started
        if handed:
            self.known[at] = gate.image
        return handed

    def leave(self) -> None:
        if self.turn is not None:
            gates.leave(*self.turn)
            self.turn = None


_CARRY: ContextVar[Carry | None] = ContextVar("imbill_uow_carry", default=None)
GUARDED = (Expect.VERSION, Expect.GUARD, Expect.ABSENT)  # a write under these held: its record was as read
PUTS = (Expect.VERSION, Expect.ABSENT, Expect.ANY, Expect.UNSET, Expect.ADVANCE)  # the whole record written


@dataclass
class _Pending:
    writes: list[Write] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    event: Event | None = None


class UnitOfWork(ABC):
    """Repositories as attributes; `commit()` applies every registered write atomically."""

    accounts: Repository[Any]
    ledger: Repository[Any]
    vouchers: Repository[Any]
    idempotency: Repository[Any]
    apps: AppRepository[Any]
    orders: OrderRepository[Any]
    notifications: NotificationRepository[Any]
    bills: BillRepository[Any]
    usage: UsageRepository[Any]
    users: UserSetRepository[Any]
    periods: PeriodRepository[Any]
    packages: PackageRepository[Any]
    renewals: BatchRepository[Any]
    events: EventRepository[Any]  # the outbox: one item per committed change, added by commit()
    webhooks: WebhookRepository[Any]
    deliveries: DeliveryRepository[Any]
    due: DueRepository  # what the jobs act on: the due indexes

    def __init__(self) -> None:
        self._pending = _Pending()
        self.carry = _CARRY.get()  # inside with_retries: what the last lost attempt showed current
        self.reads: dict[ItemKey, Image] = {}  # records read (consistently) within a retried write

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.rollback()

    def register(self, write: Write) -> None:
        self._pending.writes.append(write)

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the writes are committed (metrics of the moves)."""
        self._pending.after_commit.append(fn)

    def emit(self, event: Event) -> None:
        """Declare the change's event (one per commit: a second one is a bug of the use case)."""
        if self._pending.event is not None:
            raise ValueError(f"one commit writes one event: {self._pending.event.type} already, not {event.type}")
        self._pending.event = event

    def answered(self, body: dict[str, Any]) -> None:
        """The request's answer: the data of a declared event that left it to the answer."""
        event = self._pending.event
        if event is not None and event.data is None:
            event.data = body

    def commit(self) -> None:
        pending, self._pending = self._pending, _Pending()
        writes = pending.writes
        if pending.event is not None and writes:  # the outbox: one more item of the same transaction
            writes = [*writes, Write(Expect.ABSENT, self.events.model.of(pending.event))]
        keys = [(type(w.item), key_of(w.item)) for w in writes]
        if len(set(keys)) != len(keys):  # DynamoDB refuses it (ValidationException); so does the fake
            raise ValueError("one commit may not write the same item twice")
        try:
            self._commit(writes)
        except WriteConflict as err:
            self._carry_over(writes, err)
            raise
        if gates.active():  # the next turn at a hot record's gate starts from what this wrote
            gates.committed({at: w.item.serialize() for w in writes
                             if w.expect in PUTS and gates.in_use(at := (type(w.item), key_of(w.item)))})
        if self.carry is not None:
            self.carry.known = {}  # committed: what the lost attempt saw is not current any more
            self.carry.committed = True
            self.carry.leave()  # the next turn begins now, not after the work that follows the commit
        for fn in pending.after_commit:
            fn()

    def _carry_over(self, writes: list[Write], err: WriteConflict) -> None:
        """What the next attempt may take from this failed commit (see :class:`Carry`)."""
        carry = self.carry
        if carry is None:
            return
        failed = {(type(i), key_of(i)) for i in err.failed}
        held = None if err.held is None else {(type(i), key_of(i)) for i in err.held}
        known: dict[ItemKey, Image] = {}
        for w in writes:
            at = (type(w.item), key_of(w.item))
            if at in failed:
                if at in err.current:
                    known[at] = err.current[at]
            elif (w.expect in GUARDED and (held is None or at in held) and at in self.reads
                  and _as_read(w, self.reads[at])):
                known[at] = self.reads[at]
        carry.known = known
        carry.fresh = bool(failed) and failed <= set(known)
        rewritten = [at for w in writes if (at := (type(w.item), key_of(w.item))) in failed
                     and w.expect in (Expect.VERSION, Expect.GUARD)]
        carry.hot = rewritten[0] if rewritten else next(iter(failed), None)

    def rollback(self) -> None:
        """Forget what was registered and not committed."""
        self._pending = _Pending()

    @abstractmethod
    def _commit(self, writes: list[Write]) -> None:
        """Apply the writes all or nothing; WriteConflict when an expectation fails."""


def _as_read(write: Write, image: Image) -> bool:
    """The write's expectation was about the record as this attempt read it."""
    if write.expect is Expect.ABSENT:
        return image is None
    return image is not None and int(type(write.item).from_raw_data(image).version) == write.version


TRIES = 16  # attempts of one optimistic write (the budget ends most runs of losses first)
BUDGET = 1.5  # seconds: no new try (or turn) after this long (a request answers 503 busy within about 2 s)


def backoff(attempt: int) -> None:
    """Full-jitter exponential wait (10 ms doubling, at most 0.25 s) before retrying a lost race."""
    time.sleep(random.uniform(0, min(0.25, 0.01 * 2 ** min(attempt, 5))))


def with_retries(attempt: Callable[[], T], tries: int | None = None, budget: float | None = None,
                 lost: Callable[[Exception], bool] = lambda err: isinstance(err, WriteConflict)) -> T:
    """Run an optimistic load-decide-commit attempt until it commits; each try decides again.

    `attempt` raises an error that `lost` recognises when another writer won; it is run again
    from the top (so a balance check sees the other writer's effect), its reads answered by what
    the lost commit showed current (:class:`Carry`), at most `tries` times and not past `budget`
    seconds; then Contention (nothing was written). After a first loss on a record, the next
    attempts wait their turn at the record's gate (store/gates.py: the threads of this process
    that lost on it go one at a time, each from the record as the previous turn committed it). A
    loss right after a turn that began from another thread's commit, that answered the current
    image of what failed, is retried at once (it lost to a commit made while it waited); any other loss
    (to another process: Lambda instances share no gate) after a jittered backoff, so that racing
    processes do not retry in step."""
    tries = TRIES if tries is None else tries  # read at call time: a test may widen the policy
    budget = BUDGET if budget is None else budget
    started = time.monotonic()
    carry = Carry(started=started, deadline=started + budget)
    token = _CARRY.set(carry)
    try:
        waited = False  # the turn began from a record another thread of this process committed
        for i in range(tries):
            carry.committed = False
            try:
                return attempt()
            except Exception as err:
                if not lost(err):
                    raise
            if i + 1 == tries:
                break
            if carry.turn is None and carry.hot is not None and not gates.holding():
                waited = carry.queue(carry.hot)
                if not waited:
                    backoff(i)  # no thread here changed the record: another process won
            elif carry.fresh and waited:
                waited = False  # the attempt lost to a commit made while it waited: go again now
            else:
                backoff(i)
                waited = False
            if time.monotonic() - started > budget:
                break
        raise Contention("the item is being changed by other requests; retry shortly")
    finally:
        _CARRY.reset(token)
        carry.leave()
