"""An in-memory unit of work with the DynamoDB one's expectations, for service tests without AWS.

A :class:`FakeStore` holds the tables (items as DynamoDB attribute maps, so a record handed out is
a copy and an item missing a required attribute is refused as DynamoDB would); each
:class:`FakeUnitOfWork` commits its writes under the store's lock: every expectation is checked
first (key absent, version read, guard), then all are applied, or none (WriteConflict)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pynamodb.models import Model

from chalicelib.domain.errors import InvalidRequest
from chalicelib.store.dynamodb.adapter import SDKAPPID_BASE
from chalicelib.store.dynamodb.models import (
    AccountModel,
    AppModel,
    DeliveryModel,
    EventModel,
    IdempotencyModel,
    LedgerModel,
    MetaModel,
    NotificationModel,
    OrderModel,
    PackageModel,
    RenewalBatchModel,
    VoucherModel,
    WebhookModel,
    plain_map,
    read_shards,
)
from chalicelib.store.dynamodb.usage_models import (
    OWN_COUNTERS,
    UNBILLED,
    BillModel,
    UsageModel,
    UserSeenModel,
    identity,
    is_month,
    users_key,
)
from chalicelib.store.paging import decode, encode
from chalicelib.store.port import (
    AppRepository,
    BatchRepository,
    BillRepository,
    Counts,
    DeliveryRepository,
    DueIndex,
    DueRepository,
    EventFilter,
    EventRepository,
    Expect,
    Image,
    ItemKey,
    NotificationRepository,
    OrderRepository,
    PackageFilter,
    PackageRepository,
    Page,
    PeriodRepository,
    Repository,
    UnitOfWork,
    UsageRepository,
    UserSetRepository,
    WebhookRepository,
    Write,
    WriteConflict,
    expiry_stamp,
    key_of,
)

M = TypeVar("M", bound=Model)
Key = tuple[Any, ...]
NO_PUT = (Expect.GUARD, Expect.BELOW, Expect.COUNT)  # no item of their own to write (COUNT: made from the stored one)


class FakeStore:
    """The tables of one test: model -> key -> item (DynamoDB attribute map)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tables: dict[type[Model], dict[Key, dict[str, Any]]] = {}
        self.commits = 0
        self.sdkappids = 0  # the counter of new sdkappids

    def table(self, model: type[Model]) -> dict[Key, dict[str, Any]]:
        return self.tables.setdefault(model, {})

    def uow(self) -> FakeUnitOfWork:
        """The factory a Ctx takes: a new unit of work on these tables."""
        return FakeUnitOfWork(self)


def _sort_key(value: Any) -> Any:
    return Decimal(value) if isinstance(value, int | float | Decimal) else value


class FakeRepository(Repository[M]):
    def __init__(self, model: type[M], uow: FakeUnitOfWork) -> None:
        super().__init__(model, uow)
        self._store = uow.store

    def _load(self, *key: Any, consistent: bool = True) -> M | None:
        with self._store.lock:
            raw = self._store.table(self.model).get(tuple(key))
        return None if raw is None else self.model.from_raw_data(raw)

    def _move_due(self, item: M, attr: str, until: datetime, what: str) -> None:
        """As the DynamoDB lease: `attr` moved to `until` only while the stored one is this copy's."""
        key = key_of(item)
        with self._store.lock:
            table = self._store.table(self.model)
            raw = table.get(key)
            stored = None if raw is None else self.model.from_raw_data(raw)
            if stored is None or getattr(stored, attr) != getattr(item, attr):
                raise WriteConflict(f"{what} is not due as read")
            setattr(stored, attr, until)
            table[key] = stored.serialize()
        setattr(item, attr, until)

    def page(self, hash_key: Any, limit: int, token: str | None, consistent: bool = False) -> Page[M]:
        return self._page(hash_key, limit, token)

    def many(self, keys: Iterable[tuple[Any, ...]], consistent: bool = False) -> list[M]:
        return [item for key in sorted(set(keys)) if (item := self._load(*key)) is not None]

    def page_between(self, hash_key: Any, attr: str, start: datetime | None, end: datetime | None, limit: int,
                     token: str | None, *, newest_first: bool = False, consistent: bool = False) -> Page[M]:
        with self._store.lock:
            rows = sorted((_sort_key(k[1]), raw) for k, raw in self._store.table(self.model).items()
                          if k[0] == hash_key)
        if newest_first:
            rows.reverse()
        begin = decode(token)
        if begin is not None:
            after = self._start_after(hash_key, begin)
            rows = [(k, raw) for k, raw in rows if (k < after if newest_first else k > after)]
        taken = rows[:limit]  # evaluated, then filtered: as a DynamoDB Query with a FilterExpression
        items = [item for _, raw in taken if _within(getattr(item := self.model.from_raw_data(raw), attr), start, end)]
        more = len(rows) > limit
        last = {name: taken[-1][1][name] for name in self._key_names()} if more else None
        return Page(items, encode(last))

    def _page(self, hash_key: Any, limit: int, token: str | None, prefix: str = "") -> Page[M]:
        """A partition's page; with `prefix`, of the range keys that start with it."""
        with self._store.lock:
            rows = sorted((k, raw) for k, raw in self._store.table(self.model).items()
                          if k[0] == hash_key and str(k[1] if len(k) > 1 else "").startswith(prefix))
        start = decode(token)
        if start is not None:
            after = self._start_after(hash_key, start)
            rows = [(k, raw) for k, raw in rows if _sort_key(k[1]) > after]
        taken = rows[:limit]
        items = [self.model.from_raw_data(raw) for _, raw in taken]
        more = len(rows) > limit
        last = {name: taken[-1][1][name] for name in self._key_names()} if more else None
        return Page(items, encode(last))

    def _key_names(self) -> list[str]:
        model: Any = self.model
        return [model._hash_keyname, model._range_keyname]

    def _start_after(self, hash_key: Any, start: dict[str, Any]) -> Any:
        """The range key of a next_token of this partition (as DynamoDB, another one is refused)."""
        hash_name, range_name = self._key_names()
        if set(start) != {hash_name, range_name}:
            raise InvalidRequest("next_token is not valid")
        probe = self.model.from_raw_data(start)
        if getattr(probe, hash_name) != hash_key:
            raise InvalidRequest("next_token is not valid")
        return _sort_key(getattr(probe, range_name))


class FakeAppRepository(FakeRepository[AppModel], AppRepository[AppModel]):
    def of_account(self, account_id: str, limit: int, token: str | None) -> Page[AppModel]:
        start = decode(token)
        after = -1
        if start is not None:
            if set(start) != {"account_id", "sdkappid"} or start["account_id"] != {"S": account_id}:
                raise InvalidRequest("next_token is not valid")
            after = int(start["sdkappid"]["N"])
        with self._store.lock:
            rows = sorted((k[0], raw) for k, raw in self._store.table(AppModel).items()
                          if raw.get("account_id") == {"S": account_id} and k[0] > after)
        taken = rows[:limit]
        last = {"account_id": {"S": account_id}, "sdkappid": {"N": str(taken[-1][0])}} if len(rows) > limit else None
        return Page([AppModel.from_raw_data(raw) for _, raw in taken], encode(last))

    def push_billing(self) -> list[AppModel]:
        with self._store.lock:
            rows = [AppModel.from_raw_data(raw) for raw in self._store.table(AppModel).values()
                    if raw.get("push_billing_shard") not in (None, {"NULL": True})]
        return sorted(rows, key=lambda a: (str(a.push_billing_shard), int(a.sdkappid)))

    def next_sdkappid(self) -> int:
        with self._store.lock:
            self._store.sdkappids += 1
            return SDKAPPID_BASE + self._store.sdkappids


class FakeOrderRepository(FakeRepository[OrderModel], OrderRepository[OrderModel]):
    def of_app(self, sdkappid: int) -> list[OrderModel]:
        with self._store.lock:
            rows = sorted((k, raw) for k, raw in self._store.table(OrderModel).items() if k[0] == sdkappid)
        return [OrderModel.from_raw_data(raw) for _, raw in rows]

    def unended(self, sdkappid: int, now: datetime) -> list[OrderModel]:
        return [o for o in self.of_app(sdkappid) if o.ends_at > now]


def _within(at: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or at >= start) and (end is None or at < end)


class FakeBillRepository(FakeRepository[BillModel], BillRepository[BillModel]):
    def of_period(self, account_id: str, period: str | None, limit: int, token: str | None) -> Page[BillModel]:
        return self._page(account_id, limit, token, f"{period}#" if period else "")


class FakeNotificationRepository(FakeRepository[NotificationModel], NotificationRepository[NotificationModel]):
    def mark(self, items: list[NotificationModel]) -> None:
        rows = [(key_of(n), n.serialize()) for n in items]
        with self._store.lock:
            self._store.table(NotificationModel).update(rows)

    def delete_of_app(self, sdkappid: int, keep: Callable[[NotificationModel], bool]) -> int:
        with self._store.lock:
            table = self._store.table(NotificationModel)
            gone = [k for k, raw in table.items() if raw.get("sdkappid") == {"N": str(sdkappid)}
                    and not keep(NotificationModel.from_raw_data(raw))]
            for k in gone:
                del table[k]
        return len(gone)

    def lease(self, item: NotificationModel, until: datetime) -> None:
        self._move_due(item, "send_due_at", until, f"notification {item.notification_id}")


def counted(stored: dict[str, Any] | None, c: Counts) -> dict[str, Any] | None:
    """The usage record after a Counts write, or None when its `within` bound fails (as the DynamoDB
    condition: an unset counter has room)."""
    if c.within is not None:
        counter, limit = c.within
        name = OWN_COUNTERS[counter].attr_name
        if stored is not None and name in stored and int(stored[name]["N"]) > limit - c.add.get(counter, 0):
            return None
    item = UsageModel(c.sdkappid, c.period) if stored is None else UsageModel.from_raw_data(stored)
    meters = plain_map(item.meters)
    for key, n in c.add.items():
        own = OWN_COUNTERS.get(key)
        if own is not None:
            setattr(item, own.attr_name, int(getattr(item, own.attr_name) or 0) + n)
        else:
            meters[key] = int(meters.get(key, 0)) + n
    if meters or any(key not in OWN_COUNTERS for key in c.add):
        item.meters = meters  # type: ignore[assignment]
    for name, value in identity(c.account_id, c.sdkappid, c.period, c.expires).items():
        setattr(item, name, value)
    return item.serialize()


def below(stored: dict[str, Any] | None, attr: str, bound: Any) -> bool:
    value = None if stored is None else stored.get(attr)
    return value is None or next(iter(value.values())) < bound


class FakeUsageRepository(FakeRepository[UsageModel], UsageRepository[UsageModel]):
    def count_now(self, counts: Counts) -> UsageModel:
        key = (counts.sdkappid, counts.period)
        with self._store.lock:
            table = self._store.table(UsageModel)
            raw = counted(table.get(key), counts)
            if raw is None:
                raise WriteConflict(f"usage {key} is beyond {counts.within}")
            table[key] = raw
        return UsageModel.from_raw_data(raw)

    def _rows(self, keep: Callable[[tuple[Any, ...], dict[str, Any]], bool]) -> list[UsageModel]:
        with self._store.lock:
            rows = sorted((k, raw) for k, raw in self._store.table(UsageModel).items() if keep(k, raw))
        return [UsageModel.from_raw_data(raw) for _, raw in rows]

    def of_month(self, sdkappid: int, month: str) -> list[UsageModel]:
        return self._rows(lambda k, _: k[0] == sdkappid and k[1].startswith(month) and not k[1].endswith(UNBILLED))

    def by_month(self, month: str, shard: int | None, after_account: str | None) -> Iterator[UsageModel]:
        after = "" if after_account is None else f"{after_account}#\U0010ffff"
        rows = self._rows(lambda _, raw: raw.get("month_shard", {}).get("S", "").startswith(f"{month}#")
                          and (shard is None or raw["month_shard"]["S"] == f"{month}#{shard}")
                          and raw["account_app"]["S"] > after)
        return iter(sorted(rows, key=lambda u: (str(u.month_shard), str(u.account_app))))

    def delete(self, items: Iterable[UsageModel]) -> int:
        keys = [key_of(item) for item in items]
        with self._store.lock:
            table = self._store.table(UsageModel)
            for key in keys:
                table.pop(key, None)
        return len(keys)

    def reclaim(self, sdkappid: int, unbilled: Callable[[str], bool]) -> int:
        items = self._rows(lambda k, _: k[0] == sdkappid and not k[1].endswith(UNBILLED))
        months = [item.period for item in items if is_month(item.period)]
        with self._store.lock:
            users = self._store.table(UserSeenModel)
            gone = [k for k in users if k[0] in {users_key(sdkappid, m) for m in months}]
            for k in gone:
                del users[k]
            table = self._store.table(UsageModel)
            for item in items:
                raw = table.pop(key_of(item))
                if item.period in months and unbilled(item.period):
                    table[(sdkappid, f"{item.period}{UNBILLED}")] = {**raw, "period": {"S": f"{item.period}{UNBILLED}"}}
        return len(gone) + len(items)


class FakeUserSetRepository(FakeRepository[UserSeenModel], UserSetRepository[UserSeenModel]):
    def seen(self, sdkappid: int, month: str, users: list[str], whole: bool = False) -> set[str]:
        key = users_key(sdkappid, month)
        with self._store.lock:
            return {k[1] for k in self._store.table(UserSeenModel) if k[0] == key} & set(users)


class FakePeriodRepository(FakeRepository[MetaModel], PeriodRepository[MetaModel]):
    def close(self, marker: str, period: str) -> None:
        with self._store.lock:
            table = self._store.table(MetaModel)
            stored = table.get((marker,))
            if below(stored, "value", period):
                item = MetaModel(marker) if stored is None else MetaModel.from_raw_data(stored)
                item.value = period
                table[(marker,)] = item.serialize()


class FakePackageRepository(FakeRepository[PackageModel], PackageRepository[PackageModel]):
    def by_expiry(self, account_id: str, where: PackageFilter, limit: int, token: str | None) -> Page[PackageModel]:
        """As the index's Query: key order, `limit` items read, then the filters."""
        lo = expiry_stamp(where.after) if where.after else ""
        hi = expiry_stamp(where.before) if where.before else "\uffff"
        start = decode(token)
        if start is not None and (set(start) != {"account_id", "expiry_key", "sdkappid", "slot"}
                                  or start["account_id"] != {"S": account_id}):
            raise InvalidRequest("next_token is not valid")
        after = start["expiry_key"]["S"] if start is not None else ""
        with self._store.lock:
            rows = sorted((raw["expiry_key"]["S"], raw) for raw in self._store.table(PackageModel).values()
                          if raw.get("account_id") == {"S": account_id} and "expiry_key" in raw
                          and raw["expiry_key"] != {"NULL": True} and lo <= raw["expiry_key"]["S"] < hi
                          and raw["expiry_key"]["S"] > after)
        taken = rows[:limit]
        items = [PackageModel.from_raw_data(raw) for _, raw in taken]
        items = [p for p in items if all(v is None or getattr(p, n) == v for n, v in
                                         (("product", where.product), ("region", where.region),
                                          ("renewal", where.renewal)))]
        last = None
        if len(rows) > limit:
            raw = taken[-1][1]
            last = {"account_id": raw["account_id"], "expiry_key": raw["expiry_key"], "sdkappid": raw["sdkappid"],
                    "slot": raw["slot"]}
        return Page(items, encode(last))


class FakeBatchRepository(FakeRepository[RenewalBatchModel], BatchRepository[RenewalBatchModel]):
    def open(self) -> list[RenewalBatchModel]:
        with self._store.lock:
            rows = [RenewalBatchModel.from_raw_data(raw) for raw in self._store.table(RenewalBatchModel).values()
                    if raw.get("open_shard") not in (None, {"NULL": True})]
        return sorted(rows, key=lambda b: (b.created_at, b.account_id, b.renewal_id))
_EVENT_INDEX_KEY = {"by_account": "account_id", "by_day": "day", "by_actor": "actor_key"}


def event_kept(e: EventModel, where: EventFilter) -> bool:
    return ((where.type is None or e.type == where.type)
            and (where.account_id is None or e.account_id == where.account_id)
            and (where.sdkappid is None or (e.sdkappid is not None and int(e.sdkappid) == where.sdkappid))
            and (where.actor is None or e.actor_sub == where.actor)
            and (not where.api_only or e.actor_key is not None))


class FakeEventRepository(FakeRepository[EventModel], EventRepository[EventModel]):
    def newest(self, index: str, key: str, lo: str, hi: str, limit: int, token: str | None,
               where: EventFilter) -> Page[EventModel]:
        attr = _EVENT_INDEX_KEY[index]
        start = decode(token)
        before = start["event_id"]["S"] if start is not None and "event_id" in start else "\U0010ffff"
        with self._store.lock:
            rows = sorted((k[0], raw) for k, raw in self._store.table(EventModel).items()
                          if raw.get(attr) == {"S": key} and lo <= k[0] <= hi and k[0] < before)
        rows.reverse()
        taken = rows[:limit]
        items = [e for e in (EventModel.from_raw_data(raw) for _, raw in taken) if event_kept(e, where)]
        last = {"event_id": {"S": taken[-1][0]}} if len(rows) > limit else None
        return Page(items, encode(last))


class FakeWebhookRepository(FakeRepository[WebhookModel], WebhookRepository[WebhookModel]):
    def of_owner(self, owner: str) -> list[WebhookModel]:
        with self._store.lock:
            rows = sorted((k, raw) for k, raw in self._store.table(WebhookModel).items()
                          if raw.get("owner") == {"S": owner})
        return [WebhookModel.from_raw_data(raw) for _, raw in rows]


class FakeDeliveryRepository(FakeRepository[DeliveryModel], DeliveryRepository[DeliveryModel]):
    def due(self, now: datetime, limit: int) -> list[DeliveryModel]:
        with self._store.lock:
            rows = [DeliveryModel.from_raw_data(raw) for raw in self._store.table(DeliveryModel).values()
                    if raw.get("next_attempt_at") not in (None, {"NULL": True})]
        due = sorted((d for d in rows if d.next_attempt_at is not None and d.next_attempt_at <= now),
                     key=lambda d: d.next_attempt_at)
        return due[:limit]

    def lease(self, item: DeliveryModel, until: datetime) -> None:
        self._move_due(item, "next_attempt_at", until, f"delivery {item.delivery_id}")


class FakeDuePage:
    """A due page of the in-memory tables: as the index's Query (by due instant, `limit` items, a
    cursor after a full page)."""

    def __init__(self, items: list[Any], cursor: Any) -> None:
        self._items, self.cursor = items, cursor

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)


def _due_position(raw: dict[str, Any], index: DueIndex) -> tuple[str, str]:
    """Where an item sorts in a due index: its stored due instant (UTC, fixed width: sorts as the
    instants), then its key (ties)."""
    return raw[index.attr]["S"], json.dumps(key_of(index.model.from_raw_data(raw)), default=str)


class FakeDueRepository(DueRepository):
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def shards(self) -> range:
        return read_shards()

    def _listed(self, index: DueIndex, shard: str | None) -> list[tuple[tuple[str, str], dict[str, Any]]]:
        with self._store.lock:
            raws = [raw for raw in self._store.table(index.model).values()  # sparse: both keys set
                    if raw.get(index.attr) not in (None, {"NULL": True})
                    and raw.get(index.shard) not in (None, {"NULL": True})
                    and (shard is None or raw[index.shard] == {"S": shard})]
        return sorted(((_due_position(raw, index), raw) for raw in raws), key=lambda row: row[0])

    def page(self, index: DueIndex, at: datetime, shard: int, cursor: Any = None,
             limit: int | None = None) -> FakeDuePage:
        until = getattr(index.model, index.attr).serialize(at)  # the stored form sorts as the instants
        rows = [(pos, raw) for pos, raw in self._listed(index, str(shard)) if pos[0] <= until]
        if cursor is not None:
            after = (cursor["due"], cursor["key"])
            rows = [(pos, raw) for pos, raw in rows if pos > after]
        taken = rows if limit is None else rows[:limit]
        last = {"due": taken[-1][0][0], "key": taken[-1][0][1]} if limit is not None and len(taken) == limit else None
        return FakeDuePage([index.model.from_raw_data(raw) for _, raw in taken], last)

    def earliest(self, index: DueIndex) -> datetime | None:
        rows = self._listed(index, None)
        return None if not rows else getattr(index.model.from_raw_data(rows[0][1]), index.attr)


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, store: FakeStore | None = None) -> None:
        super().__init__()
        self.store = store if store is not None else FakeStore()
        self.accounts = FakeRepository(AccountModel, self)
        self.ledger = FakeRepository(LedgerModel, self)
        self.vouchers = FakeRepository(VoucherModel, self)
        self.idempotency = FakeRepository(IdempotencyModel, self)
        self.apps = FakeAppRepository(AppModel, self)
        self.orders = FakeOrderRepository(OrderModel, self)
        self.notifications = FakeNotificationRepository(NotificationModel, self)
        self.bills = FakeBillRepository(BillModel, self)
        self.usage = FakeUsageRepository(UsageModel, self)
        self.users = FakeUserSetRepository(UserSeenModel, self)
        self.periods = FakePeriodRepository(MetaModel, self)
        self.packages = FakePackageRepository(PackageModel, self)
        self.renewals = FakeBatchRepository(RenewalBatchModel, self)
        self.events = FakeEventRepository(EventModel, self)
        self.webhooks = FakeWebhookRepository(WebhookModel, self)
        self.deliveries = FakeDeliveryRepository(DeliveryModel, self)
        self.due = FakeDueRepository(self.store)

    def _commit(self, writes: list[Write]) -> None:
        staged = [(w, self.store.table(type(w.item)), key_of(w.item)) for w in writes]
        rows = [(w, table, key, w.item.serialize() if w.expect not in NO_PUT else None)
                for w, table, key in staged]  # serialized first: a missing attribute writes nothing
        with self.store.lock:
            failed = []
            current: dict[ItemKey, Image] = {}
            for i, (w, table, key, _) in enumerate(rows):
                stored = table.get(key)
                if w.expect is Expect.COUNT:
                    raw = counted(stored, w.value)
                    rows[i] = (w, table, key, raw)
                    ok = raw is not None
                elif w.expect is Expect.BELOW:
                    ok = below(stored, str(w.attr), w.value)
                elif w.expect is Expect.ADVANCE:
                    ok = below(stored, str(w.attr), w.value) or (stored or {}).get(str(w.attr)) == {"S": w.value}
                elif w.expect is Expect.UNSET:
                    ok = stored is None or stored.get(str(w.attr)) in (None, {"NULL": True})
                elif w.expect is Expect.ABSENT:
                    ok = stored is None
                elif w.expect is Expect.ANY:
                    ok = True
                else:
                    ok = stored is not None and int(type(w.item).from_raw_data(stored).version) == w.version
                if not ok:
                    failed.append(w.item)
                    current[(type(w.item), key)] = stored  # as DynamoDB's ALL_OLD answers it
            if failed:
                conflict = WriteConflict(f"{len(failed)} expectation(s) failed: "
                                         + ", ".join(f"{type(i).__name__} {key_of(i)}" for i in failed))
                conflict.failed, conflict.current = tuple(failed), current
                raise conflict
            for _, table, key, raw in rows:
                if raw is not None:
                    table[key] = raw
            if rows:
                self.store.commits += 1
