"""Balance moves: every change of balance writes one ledger entry in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from pynamodb.transactions import TransactWrite

from chalicelib import logs
from chalicelib.domain.money import Cents
from chalicelib.store.dynamo_uow import DynamoUnitOfWork
from chalicelib.store.models import AccountModel, LedgerModel
from chalicelib.store.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Move:
    kind: str  # topup | purchase | refund | credit | bill
    cash: Cents  # signed: negative takes money
    gift: Cents
    ref: str | None = None


def save_account(tx: TransactWrite, acct: AccountModel) -> None:
    """Write the account only if nobody else wrote it since we read it (optimistic version): for the
    services that still write through a TransactWrite (apps, billing, lifecycle)."""
    DynamoUnitOfWork.joining(tx).accounts.save(acct)


def book(
    uow: UnitOfWork,
    acct: AccountModel,
    moves: list[Move],
    at: datetime,
    then: Callable[[AccountModel], None] | None = None,
) -> list[LedgerModel]:
    """Apply moves to the account's balance and write one ledger entry per move, then the account.

    `then` sees the account with its new balance before it is written (arrears start or end there)."""
    entries = []
    for move in moves:
        acct.cash = int(acct.cash) + move.cash
        acct.gift = int(acct.gift) + move.gift
        acct.ledger_seq = int(acct.ledger_seq) + 1
        entry = LedgerModel(
            acct.account_id,
            acct.ledger_seq,
            at=at,
            kind=move.kind,
            cash=move.cash,
            gift=move.gift,
            balance_cash=acct.cash,
            balance_gift=acct.gift,
            ref=move.ref,
        )
        uow.ledger.add(entry)
        entries.append(entry)
        uow.after_commit(partial(logs.money_moved, move.kind, move.cash, move.gift))  # counted once committed
    if then is not None:
        then(acct)
    uow.accounts.save(acct)
    return entries


def post(tx: TransactWrite, acct: AccountModel, moves: list[Move], at: datetime,
         then: Callable[[AccountModel], None] | None = None) -> list[LedgerModel]:
    """:func:`book` for the services that still write through a TransactWrite (billing, purchases)."""
    return book(DynamoUnitOfWork.joining(tx), acct, moves, at, then)
