"""The DynamoDB unit of work: every registered write of one commit in one TransactWriteItems, each
with its condition (key absent, version read, guard); a cancelled transaction is WriteConflict."""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.store import uow
from chalicelib.store.models import AccountModel, IdempotencyModel, LedgerModel, VoucherModel
from chalicelib.store.paging import page
from chalicelib.store.unit_of_work import Expect, Page, Repository, UnitOfWork, Write, WriteConflict, key_of

M = TypeVar("M", bound=Model)


def add_to(tx: TransactWrite, write: Write) -> None:
    """One registered write as a conditional put (or a condition check) of the transaction."""
    model: Any = type(write.item)
    if write.expect is Expect.ABSENT:
        tx.save(write.item, condition=getattr(model, model._hash_keyname).does_not_exist())
    elif write.expect is Expect.VERSION:
        tx.save(write.item, condition=model.version == write.version)
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


class DynamoUnitOfWork(UnitOfWork):
    """One TransactWriteItems per commit. `joining(tx)` adds the writes to a transaction that a
    service not yet on the unit of work commits itself."""

    def __init__(self, tx: TransactWrite | None = None) -> None:
        super().__init__()
        self._joined = tx
        self._tx: TransactWrite | None = tx
        self.accounts = DynamoRepository(AccountModel, self)
        self.ledger = DynamoRepository(LedgerModel, self)
        self.vouchers = DynamoRepository(VoucherModel, self)
        self.idempotency = DynamoRepository(IdempotencyModel, self)

    @classmethod
    def joining(cls, tx: TransactWrite) -> DynamoUnitOfWork:
        return cls(tx)

    @property
    def legacy(self) -> TransactWrite:
        if self._tx is None:
            self._tx = uow.write()
        return self._tx

    def register(self, write: Write) -> None:
        if self._joined is not None:  # the owner of the transaction commits it
            add_to(self._joined, write)
        else:
            super().register(write)

    def after_commit(self, fn: Any) -> None:
        if isinstance(self._joined, uow.Tx):
            self._joined.after_commit.append(fn)
        elif self._joined is None:
            super().after_commit(fn)

    def _commit(self, writes: list[Write]) -> None:
        if self._joined is not None:
            raise TypeError("a unit of work joining a transaction is committed by the transaction's owner")
        tx, self._tx = self.legacy, None
        for write in writes:
            add_to(tx, write)
        if not any((tx._put_items, tx._update_items, tx._delete_items, tx._condition_check_items)):
            return
        try:
            tx._commit()
        except TransactWriteError as err:
            if uow.is_conflict(err):
                raise WriteConflict(str(err)) from err
            raise

    def rollback(self) -> None:
        super().rollback()
        if self._joined is None:
            self._tx = None
