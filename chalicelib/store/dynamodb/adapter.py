"""The DynamoDB unit of work: every registered write of one commit in one TransactWriteItems, each
with its condition (key absent, version read, guard); a cancelled transaction is WriteConflict."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from datetime import datetime
from typing import Any, TypeVar

from pynamodb.attributes import Attribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.store.dynamodb import plumbing, watch
from chalicelib.store.dynamodb.due import DynamoDueRepository
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
from chalicelib.store.paging import page
from chalicelib.store.port import (
    AppRepository,
    BatchRepository,
    BillRepository,
    Counts,
    DeliveryRepository,
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

SDKAPPID_BASE = 1_400_000_000

M = TypeVar("M", bound=Model)


class DynamoWriteConflict(WriteConflict, TransactWriteError):
    """A cancelled transaction: WriteConflict to the callers of the unit of work, and still the
    TransactWriteError that callers written against PynamoDB transactions catch."""


def below(attr: Attribute[Any], value: Any) -> Condition:
    """The stored attribute is unset or below `value` (a close marker: the period is still open)."""
    return attr.does_not_exist() | (attr < value)


def count_update(c: Counts) -> tuple[list[Action], Condition | None]:
    """A Counts write as one update: ADD of each counter with an attribute of its own, `meters[key]`
    raised for any other (the map must exist first: `ensure_meters`), the record's identity SET; the
    `within` bound as the condition `attribute_not_exists(c) OR c <= :limit - :added`."""
    actions: list[Action] = []
    for key, n in c.add.items():
        own = OWN_COUNTERS.get(key)
        if own is not None:
            actions.append(own.add(n))
        else:
            path = UsageModel.meters[key]
            actions.append(path.set((path | 0) + n))
    actions += [getattr(UsageModel, name).set(v) for name, v in identity(c.account_id, c.sdkappid, c.period,
                                                                           c.expires).items()]
    condition = None
    if c.within is not None:
        counter, limit = c.within
        attr = OWN_COUNTERS[counter]
        condition = attr.does_not_exist() | (attr <= limit - c.add.get(counter, 0))
    return actions, condition


def ensure_meters(c: Counts) -> None:
    """A counter without an attribute of its own is a key of the `meters` map: create the map first
    (one UpdateItem, idempotent) when the record may have none."""
    if all(key in OWN_COUNTERS for key in c.add):
        return
    marks = identity(c.account_id, c.sdkappid, c.period, c.expires)
    UsageModel(c.sdkappid, c.period).update(actions=[UsageModel.meters.set(UsageModel.meters | {}),
                                                     *[getattr(UsageModel, k).set(v) for k, v in marks.items()]])


CHECKS = (Expect.GUARD, Expect.BELOW)  # condition checks: first among a transaction's items
UPDATES = (Expect.COUNT,)  # updates: last (puts come between), as PynamoDB sends them


OLD = "ALL_OLD"  # a failed condition answers the item as stored: the next attempt decides from it unread


def add_to(tx: TransactWrite, write: Write) -> None:
    """One registered write as a conditional put, update or condition check of the transaction."""
    model: Any = type(write.item)
    if write.expect is Expect.ABSENT:
        tx.save(write.item, condition=getattr(model, model._hash_keyname).does_not_exist(), return_values=OLD)
    elif write.expect is Expect.VERSION:
        tx.save(write.item, condition=model.version == write.version, return_values=OLD)
    elif write.expect is Expect.ANY:
        tx.save(write.item)
    elif write.expect is Expect.UNSET:
        tx.save(write.item, condition=getattr(model, str(write.attr)).does_not_exist())
    elif write.expect is Expect.ADVANCE:
        attr = getattr(model, str(write.attr))
        tx.save(write.item, condition=attr.does_not_exist() | (attr <= write.value))
    elif write.expect is Expect.COUNT:
        actions, condition = count_update(write.value)
        tx.update(write.item, actions=actions, condition=condition)
    elif write.expect is Expect.BELOW:
        tx.condition_check(model, key_of(write.item)[0], condition=below(getattr(model, str(write.attr)), write.value))
    else:
        hash_key, *range_key = key_of(write.item)
        tx.condition_check(model, hash_key, range_key[0] if range_key else None,
                           condition=model.version == write.version)
        tx._condition_check_items[-1]["ReturnValuesOnConditionCheckFailure"] = OLD  # PynamoDB has no argument

class DynamoRepository(Repository[M]):
    def _move_due(self, item: M, attr: str, until: datetime, what: str) -> None:
        """A lease: the item's due instant `attr` moved to `until` in one conditional UpdateItem, only
        while the stored one is still this copy's (else WriteConflict: another worker claimed it)."""
        due = getattr(self.model, attr)
        w = watch.current()  # a clock move's: it learns the new due instant from here, not from the request
        try:
            with w.updating(item, {attr: until}) if w is not None else nullcontext():
                item.update(actions=[due.set(until)], condition=due == getattr(item, attr))
        except UpdateError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                raise WriteConflict(f"{what} is not due as read") from err
            raise

    def _load(self, *key: Any, consistent: bool = True) -> M | None:
        hash_key, *range_key = key
        try:
            return self.model.get(hash_key, range_key[0] if range_key else None, consistent_read=consistent)
        except self.model.DoesNotExist:
            return None

    def page(self, hash_key: Any, limit: int, token: str | None, consistent: bool = False) -> Page[M]:
        found = page(self.model.query, hash_key, lambda item: item, limit, token, consistent=consistent)
        return Page(found["items"], found["next_token"])

    def page_between(self, hash_key: Any, attr: str, start: datetime | None, end: datetime | None, limit: int,
                     token: str | None, *, newest_first: bool = False, consistent: bool = False) -> Page[M]:
        field = getattr(self.model, attr)
        bounds = [c for c in (field >= start if start else None, field < end if end else None) if c is not None]
        condition = bounds[0] & bounds[1] if len(bounds) == 2 else (bounds[0] if bounds else None)
        found = page(self.model.query, hash_key, lambda item: item, limit, token, consistent=consistent,
                     filter_condition=condition, scan_index_forward=not newest_first)
        return Page(found["items"], found["next_token"])

    def many(self, keys: Iterable[tuple[Any, ...]], consistent: bool = False) -> list[M]:
        """During a clock move the accounts are remembered (store/dynamodb/watch.py `items`): every bill of
        the move reads its account, which only this process's writes change, and each of those
        writes puts the whole account (its new image replaces the remembered one)."""
        wanted = [k[0] if len(k) == 1 else k for k in sorted(set(keys))]
        if not wanted:
            return []
        w = watch.current()
        if w is not None and self.model is AccountModel:
            found = w.items(self.model, wanted, lambda ks: list(self.model.batch_get(ks, consistent_read=consistent)))
        else:
            found = list(self.model.batch_get(wanted, consistent_read=consistent))
        return sorted(found, key=key_of)


# what the push-billing list answers from: a write of a listed app that changes none of these (a
# warning's last_warned_day, a renewal's expires_at) keeps the list remembered during a move
# (a stale `version` only makes the one write of the list, an app's release, re-read the app)
PUSH_FIELDS = ("account_id", "status", "push_billing_shard", "push_quota_log", "plugins_until", "push_until")


class DynamoAppRepository(DynamoRepository[AppModel], AppRepository[AppModel]):
    def of_account(self, account_id: str, limit: int, token: str | None) -> Page[AppModel]:
        found = page(AppModel.by_account.query, account_id, lambda item: item, limit, token)
        return Page(found["items"], found["next_token"])

    def push_billing(self) -> list[AppModel]:
        """During a clock move, remembered until a write touches one of them or puts an app into the
        index (store/dynamodb/watch.py)."""

        def load() -> list[AppModel]:
            return [app for shard in read_shards() for app in AppModel.push_billing.query(str(shard))]

        w = watch.current()
        if w is None:
            return load()
        return w.cached("push-billing", AppModel.Meta.table_name, ("sdkappid",), load,
                        touches=lambda item: "push_billing_shard" in item, fields=PUSH_FIELDS)

    def next_sdkappid(self) -> int:
        item = MetaModel("sdkappid")
        item.update(actions=[MetaModel.counter.add(1)])
        return SDKAPPID_BASE + int(item.counter)


class DynamoOrderRepository(DynamoRepository[OrderModel], OrderRepository[OrderModel]):
    def of_app(self, sdkappid: int) -> list[OrderModel]:
        return list(OrderModel.query(sdkappid, consistent_read=True))

    def unended(self, sdkappid: int, now: datetime) -> list[OrderModel]:
        return list(OrderModel.query(sdkappid, filter_condition=OrderModel.ends_at > now))


class DynamoBillRepository(DynamoRepository[BillModel], BillRepository[BillModel]):
    def of_period(self, account_id: str, period: str | None, limit: int, token: str | None) -> Page[BillModel]:
        condition = BillModel.bill_key.startswith(f"{period}#") if period else None  # that period exactly
        found = page(BillModel.query, account_id, lambda item: item, limit, token, range_key_condition=condition)
        return Page(found["items"], found["next_token"])


class DynamoNotificationRepository(DynamoRepository[NotificationModel], NotificationRepository[NotificationModel]):
    def mark(self, items: list[NotificationModel]) -> None:
        with NotificationModel.batch_write() as batch:  # one BatchWriteItem per 25
            for n in items:
                batch.save(n)

    def delete_of_app(self, sdkappid: int, keep: Callable[[NotificationModel], bool]) -> int:
        gone = (n for n in NotificationModel.by_app.query(sdkappid) if not keep(n))
        return plumbing.delete_all(NotificationModel, gone)

    def lease(self, item: NotificationModel, until: datetime) -> None:
        self._move_due(item, "send_due_at", until, f"notification {item.notification_id}")


class DynamoUsageRepository(DynamoRepository[UsageModel], UsageRepository[UsageModel]):
    def count_now(self, counts: Counts) -> UsageModel:
        ensure_meters(counts)
        item = UsageModel(counts.sdkappid, counts.period)
        actions, condition = count_update(counts)
        try:
            item.update(actions=actions, condition=condition)  # answers ALL_NEW: the record after it
        except UpdateError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                raise WriteConflict(f"usage {counts.sdkappid} {counts.period} is beyond {counts.within}") from err
            raise
        return item

    def of_month(self, sdkappid: int, month: str) -> list[UsageModel]:
        found = UsageModel.query(sdkappid, UsageModel.period.startswith(month), consistent_read=True)
        return [i for i in found if not i.period.endswith(UNBILLED)]

    def by_month(self, month: str, shard: int | None, after_account: str | None) -> Iterator[UsageModel]:
        after = None if after_account is None else UsageModel.account_app > f"{after_account}#\U0010ffff"
        for s in read_shards() if shard is None else [shard]:
            yield from UsageModel.by_month.query(f"{month}#{s}", after)

    def delete(self, items: Iterable[UsageModel]) -> int:
        return plumbing.delete_all(UsageModel, items)

    def reclaim(self, sdkappid: int, unbilled: Callable[[str], bool]) -> int:
        """One Query of the app's partition; per month record one Query of its user set and
        BatchWriteItem deletes (each user is written only with its month record, so every user set
        is found from one); the records go in BatchWriteItem calls, an unbilled copy put first."""
        deleted = 0
        items = list(UsageModel.query(sdkappid, consistent_read=True))
        months = [item for item in items if is_month(item.period)]
        for item in months:
            seen = UserSeenModel.query(users_key(sdkappid, item.period), consistent_read=True,
                                       attributes_to_get=["app_month", "user_id"])
            deleted += plumbing.delete_all(UserSeenModel, seen)
        with UsageModel.batch_write() as batch:
            for item in items:
                if item.period.endswith(UNBILLED):
                    continue  # moved by an earlier try of this reclamation
                batch.delete(item)
                deleted += 1
                if item in months and unbilled(item.period):  # same month_shard: the settlement finds it
                    batch.save(UsageModel(**{**item.attribute_values, "period": f"{item.period}{UNBILLED}"}))
        return deleted


class DynamoUserSetRepository(DynamoRepository[UserSeenModel], UserSetRepository[UserSeenModel]):
    def seen(self, sdkappid: int, month: str, users: list[str], whole: bool = False) -> set[str]:
        key = users_key(sdkappid, month)
        found: Iterable[UserSeenModel]
        if whole:  # one Query
            found = UserSeenModel.query(key, consistent_read=True, attributes_to_get=["user_id"])
        else:  # BatchGetItem, 100 keys a request
            found = UserSeenModel.batch_get([(key, u) for u in users], consistent_read=True,
                                            attributes_to_get=["user_id"])
        return {item.user_id for item in found} & set(users)


class DynamoPeriodRepository(DynamoRepository[MetaModel], PeriodRepository[MetaModel]):
    def close(self, marker: str, period: str) -> None:
        try:
            MetaModel(marker).update(actions=[MetaModel.value.set(period)], condition=below(MetaModel.value, period))
        except UpdateError as err:
            if err.cause_response_code != "ConditionalCheckFailedException":
                raise  # else: closed already, by an earlier try or a later period


class DynamoPackageRepository(DynamoRepository[PackageModel], PackageRepository[PackageModel]):
    def by_expiry(self, account_id: str, where: PackageFilter, limit: int, token: str | None) -> Page[PackageModel]:
        key = PackageModel.expiry_key
        lo = expiry_stamp(where.after) if where.after else None
        hi = expiry_stamp(where.before) if where.before else None
        cond = key.between(lo, hi) if lo and hi else (key >= lo if lo else (key < hi if hi else None))
        filters = [attr == value for attr, value in ((PackageModel.product, where.product),
                                                      (PackageModel.region, where.region),
                                                      (PackageModel.renewal, where.renewal)) if value is not None]
        condition: Condition | None = None
        for f in filters:
            condition = f if condition is None else condition & f
        found = page(PackageModel.by_expiry.query, account_id, lambda item: item, limit, token,
                     range_key_condition=cond, filter_condition=condition)
        return Page(found["items"], found["next_token"])


class DynamoBatchRepository(DynamoRepository[RenewalBatchModel], BatchRepository[RenewalBatchModel]):
    def open(self) -> list[RenewalBatchModel]:
        return [b for shard in read_shards() for b in RenewalBatchModel.open_batches.query(str(shard))]
def event_condition(where: EventFilter, index: str) -> Condition | None:
    """The filter expression of an events Query (`where` minus what the index key says already)."""
    parts: list[Condition] = []
    if where.type is not None:
        parts.append(EventModel.type == where.type)
    if where.account_id is not None and index != "by_account":
        parts.append(EventModel.account_id == where.account_id)
    if where.sdkappid is not None:
        parts.append(EventModel.sdkappid == where.sdkappid)
    if where.actor is not None and index != "by_actor":
        parts.append(EventModel.actor_sub == where.actor)
    if where.api_only and index != "by_actor":
        parts.append(EventModel.actor_key.exists())
    condition: Condition | None = None
    for part in parts:
        condition = part if condition is None else condition & part
    return condition


class DynamoEventRepository(DynamoRepository[EventModel], EventRepository[EventModel]):
    def newest(self, index: str, key: str, lo: str, hi: str, limit: int, token: str | None,
               where: EventFilter) -> Page[EventModel]:
        found = page(getattr(EventModel, index).query, key, lambda item: item, limit, token,
                     range_key_condition=EventModel.event_id.between(lo, hi),
                     filter_condition=event_condition(where, index), scan_index_forward=False)
        return Page(found["items"], found["next_token"])


class DynamoWebhookRepository(DynamoRepository[WebhookModel], WebhookRepository[WebhookModel]):
    def of_owner(self, owner: str) -> list[WebhookModel]:
        return list(WebhookModel.by_account.query(owner))


class DynamoDeliveryRepository(DynamoRepository[DeliveryModel], DeliveryRepository[DeliveryModel]):
    def due(self, now: datetime, limit: int) -> list[DeliveryModel]:
        due = DeliveryModel.next_attempt_at <= now
        found = [d for shard in read_shards() for d in DeliveryModel.attempt_due.query(str(shard), due, limit=limit)]
        return sorted(found, key=lambda d: d.next_attempt_at)[:limit]

    def lease(self, item: DeliveryModel, until: datetime) -> None:
        self._move_due(item, "next_attempt_at", until, f"delivery {item.delivery_id}")


class DynamoUnitOfWork(UnitOfWork):
    """One TransactWriteItems per commit."""

    def __init__(self) -> None:
        super().__init__()
        self.accounts = DynamoRepository(AccountModel, self)
        self.ledger = DynamoRepository(LedgerModel, self)
        self.vouchers = DynamoRepository(VoucherModel, self)
        self.idempotency = DynamoRepository(IdempotencyModel, self)
        self.apps = DynamoAppRepository(AppModel, self)
        self.orders = DynamoOrderRepository(OrderModel, self)
        self.notifications = DynamoNotificationRepository(NotificationModel, self)
        self.bills = DynamoBillRepository(BillModel, self)
        self.usage = DynamoUsageRepository(UsageModel, self)
        self.users = DynamoUserSetRepository(UserSeenModel, self)
        self.periods = DynamoPeriodRepository(MetaModel, self)
        self.packages = DynamoPackageRepository(PackageModel, self)
        self.renewals = DynamoBatchRepository(RenewalBatchModel, self)
        self.events = DynamoEventRepository(EventModel, self)
        self.webhooks = DynamoWebhookRepository(WebhookModel, self)
        self.deliveries = DynamoDeliveryRepository(DeliveryModel, self)
        self.due = DynamoDueRepository()

    def _commit(self, writes: list[Write]) -> None:
        if not writes:
            return
        for write in writes:
            if write.expect is Expect.COUNT:
                ensure_meters(write.value)
        try:
            with plumbing.write() as tx:  # one TransactWriteItems, sent when the block ends
                for write in writes:
                    add_to(tx, write)
        except TransactWriteError as err:
            if plumbing.is_conflict(err):
                conflict = DynamoWriteConflict(err.msg, cause=err.cause)
                conflict.failed, conflict.current, conflict.held = failed(writes, err)
                raise conflict from err
            raise


def failed(writes: list[Write], err: TransactWriteError
           ) -> tuple[tuple[Any, ...], dict[ItemKey, Image], tuple[Any, ...]]:
    """The records whose condition cancelled the transaction (its reasons are in the order of its
    items: condition checks, puts, updates), the stored image of those the answer carries, and the
    records whose condition the answer says held (code None; not one in another transaction)."""
    ordered = ([w for w in writes if w.expect in CHECKS]
               + [w for w in writes if w.expect not in CHECKS + UPDATES]
               + [w for w in writes if w.expect in UPDATES])
    reasons = list(zip(ordered, err.cancellation_reasons or [], strict=False))
    lost = [(w.item, r) for w, r in reasons if r and r.code == "ConditionalCheckFailed"]
    current: dict[ItemKey, Image] = {(type(item), key_of(item)): r.raw_item for item, r in lost
                                     if r.raw_item is not None}
    held = tuple(w.item for w, r in reasons if r is None or r.code in (None, "None"))
    return tuple(item for item, _ in lost), current, held
