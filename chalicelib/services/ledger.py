"""Balance moves: every change of balance writes one ledger entry in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from chalicelib import logs
from chalicelib.domain import contacts
from chalicelib.domain.money import Cents, fmt
from chalicelib.domain.notices import notice
from chalicelib.services import notifications
from chalicelib.services.context import Ctx
from chalicelib.store.dynamodb.models import AccountModel, LedgerModel
from chalicelib.store.port import UnitOfWork


@dataclass(frozen=True)
class Move:
    kind: str  # topup | purchase | refund | credit | bill
    cash: Cents  # signed: negative takes money
    gift: Cents
    ref: str | None = None


def book(
    ctx: Ctx,
    uow: UnitOfWork,
    acct: AccountModel,
    moves: list[Move],
    then: Callable[[AccountModel], None] | None = None,
) -> list[LedgerModel]:
    """Apply moves to the account's balance at ctx.now and write one ledger entry per move, then the
    account.

    `then` sees the account with its new balance before it is written (arrears start or end there)."""
    at = ctx.now
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
    if entries:
        _balance_alert(ctx, uow, acct, int(entries[0].balance_cash) - moves[0].cash + int(entries[0].balance_gift)
                       - moves[0].gift, at)
    uow.accounts.save(acct)
    return entries


def _balance_alert(ctx: Ctx, uow: UnitOfWork, acct: AccountModel, before: Cents, at: datetime) -> None:
    """The balance alert, decided in the move's own transaction (billing-rules 7a): a move from at least
    the threshold to below it records one `balance_low` (sent once the move commits); a balance back at
    the threshold or above re-arms it."""
    if acct.alert_threshold is None:
        return
    alert, fire = contacts.after_move(contacts.Alert(int(acct.alert_threshold), bool(acct.alert_armed)),
                                      before, int(acct.cash) + int(acct.gift))
    acct.alert_armed = alert.armed
    if not fire:
        return
    subject, body = notice(ctx.catalog, "balance_low", account_id=acct.account_id,
                           threshold=fmt(int(acct.alert_threshold)), total=fmt(int(acct.cash) + int(acct.gift)),
                           cash=fmt(int(acct.cash)), gift=fmt(int(acct.gift)))
    items = notifications.compose(acct, "balance_low", at, subject=subject, body=body,
                                  ref=f"seq{int(acct.ledger_seq)}")
    notifications.enqueue(ctx, uow, items)

    def send() -> None:
        notifications.dispatch(ctx, items, at)

    uow.after_commit(send)

