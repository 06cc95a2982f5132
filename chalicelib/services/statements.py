"""An account's statement of a local month (billing zone): the opening and closing balance, every
ledger entry of the month and every bill posted in it, read through the unit of work page after page
(no cap). The totals come from chalicelib.domain.statements (opening + moves = closing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from chalicelib.domain.calendar import month_bounds
from chalicelib.domain.statements import Moved, Totals, totals
from chalicelib.services.accounts import load_account
from chalicelib.services.context import Ctx
from chalicelib.store.dynamodb.models import AccountModel, LedgerModel
from chalicelib.store.dynamodb.usage_models import BillModel
from chalicelib.store.port import Page

T = TypeVar("T")
PAGE = 1000


@dataclass(frozen=True)
class Statement:
    account: AccountModel
    month: str
    start: datetime
    end: datetime
    entries: list[LedgerModel]
    bills: list[BillModel]
    totals: Totals


def every(fetch: Callable[[str | None], Page[T]]) -> list[T]:
    """Every item of a paged read, following next_token to the end."""
    items: list[T] = []
    token: str | None = None
    while True:
        found = fetch(token)
        items.extend(found.items)
        token = found.next_token
        if token is None:
            return items


def moved(e: LedgerModel) -> Moved:
    return Moved(int(e.cash), int(e.gift), int(e.balance_cash), int(e.balance_gift))


def statement(ctx: Ctx, account_id: str, month: str) -> Statement:
    start, end = month_bounds(month, ctx.tz)
    with ctx.uow() as uow:
        acct = load_account(ctx, uow, account_id, consistent=False)
        entries = every(lambda t: uow.ledger.page_between(account_id, "at", start, end, PAGE, t, consistent=True))
        before = None
        token: str | None = None
        while not entries:  # a quiet month: its balance is the one after the last entry before it
            found = uow.ledger.page_between(account_id, "at", None, start, PAGE, token, newest_first=True,
                                            consistent=True)
            if found.items:
                before = moved(found.items[0])
            token = found.next_token
            if before is not None or token is None:
                break
        bills = every(lambda t: uow.bills.page_between(account_id, "posted_at", start, end, PAGE, t))
    return Statement(acct, month, start, end, entries, bills, totals([moved(e) for e in entries], before))
