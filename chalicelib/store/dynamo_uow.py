"""The DynamoDB unit of work: every registered write of one commit in one TransactWriteItems, each
with its condition (key absent, version read, guard); a cancelled transaction is WriteConflict."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.store import uow
from chalicelib.store.models import (
    AccountModel,
    AppModel,
    IdempotencyModel,
    LedgerModel,
    MetaModel,
    NotificationModel,
    OrderModel,
    VoucherModel,
)
from chalicelib.store.paging import page
from chalicelib.store.unit_of_work import (
    AppRepository,
    BillRepository,
    Expect,
    NotificationRepository,
    OrderRepository,
    Page,
    Repository,
    UnitOfWork,
    Write,
    WriteConflict,
    key_of,
)
from chalicelib.store.usage_models import BillModel

SDKAPPID_BASE = 1_400_000_000

M = TypeVar("M", bound=Model)


class DynamoWriteConflict(WriteConflict, TransactWriteError):
    """A cancelled transaction: WriteConflict to the callers of the unit of work, and still the
    TransactWriteError that callers written against PynamoDB transactions catch."""


def add_to(tx: TransactWrite, write: Write) -> None:
    """One registered write as a conditional put (or a condition check) of the transaction."""
    model: Any = type(write.item)
    if write.expect is Expect.ABSENT:
        tx.save(write.item, condition=getattr(model, model._hash_keyname).does_not_exist())
    elif write.expect is Expect.VERSION:
        tx.save(write.item, condition=model.version == write.version)
    elif write.expect is Expect.ANY:
        tx.save(write.item)
    elif write.expect is Expect.UNSET:
        tx.save(write.item, condition=getattr(model, str(write.attr)).does_not_exist())
    else:
        hash_key, *range_key = key_of(write.item)
        tx.condition_check(model, hash_key, range_key[0] if range_key else None,
                           condition=model.version == write.version)


class DynamoRepository(Repository[M]):
    def get(self, *key: Any, consistent: bool = True) -> M | None:
        hash_key, *range_key = key
        try:
            return self.model.get(hash_key, range_key[0] if range_key else None, consistent_read=consistent)
        except self.model.DoesNotExist:
            return None

    def page(self, hash_key: Any, limit: int, token: str | None, consistent: bool = False) -> Page[M]:
        found = page(self.model.query, hash_key, lambda item: item, limit, token, consistent=consistent)
        return Page(found["items"], found["next_token"])


class DynamoAppRepository(DynamoRepository[AppModel], AppRepository[AppModel]):
    def of_account(self, account_id: str, limit: int, token: str | None) -> Page[AppModel]:
        found = page(AppModel.by_account.query, account_id, lambda item: item, limit, token)
        return Page(found["items"], found["next_token"])

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

    def lease(self, item: NotificationModel, until: datetime) -> None:
        try:
            item.update(actions=[NotificationModel.send_due_at.set(until)],
                        condition=NotificationModel.send_due_at == item.send_due_at)
        except UpdateError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                raise WriteConflict(f"notification {item.notification_id} is not due as read") from err
            raise


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

    def _commit(self, writes: list[Write]) -> None:
        tx = uow.write()
        for write in writes:
            add_to(tx, write)
        if not any((tx._put_items, tx._update_items, tx._delete_items, tx._condition_check_items)):
            return
        try:
            tx._commit()
        except TransactWriteError as err:
            if uow.is_conflict(err):
                raise DynamoWriteConflict(err.msg, cause=err.cause) from err
            raise

