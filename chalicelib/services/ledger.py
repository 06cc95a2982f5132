"""Balance moves: every change of balance writes one ledger entry in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from chalicelib import logs
from chalicelib.domain.money import Cents
from chalicelib.store.models import AccountModel, LedgerModel
from chalicelib.store.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Move:
    kind: str  # topup | purchase | refund | credit | bill
    cash: Cents  # signed: negative takes money
    gift: Cents
    ref: str | None = None


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

