"""Balance moves: every change of balance writes one ledger entry in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from pynamodb.transactions import TransactWrite

from chalicelib import logs
from chalicelib.domain.money import Cents
from chalicelib.store.models import AccountModel, LedgerModel
from chalicelib.store.uow import Tx


@dataclass(frozen=True)
class Move:
    kind: str  # topup | purchase | refund | credit | bill
    cash: Cents  # signed: negative takes money
    gift: Cents
    ref: str | None = None


def save_account(tx: TransactWrite, acct: AccountModel) -> None:
    """Write the account only if nobody else wrote it since we read it (optimistic version)."""
    old = int(acct.version)
    acct.version = old + 1
    tx.save(acct, condition=AccountModel.version == old)


def post(
    tx: TransactWrite,
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
        tx.save(entry, condition=LedgerModel.seq.does_not_exist())
        entries.append(entry)
        if isinstance(tx, Tx):  # counted once committed (bills posted, purchases, refunds, top-ups)
            tx.after_commit.append(partial(logs.money_moved, move.kind, move.cash, move.gift))
    if then is not None:
        then(acct)
    save_account(tx, acct)
    return entries
