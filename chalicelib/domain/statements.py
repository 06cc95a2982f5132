"""A month's statement of an account: opening and closing balance from the ledger's own running
balances, so that opening + the month's moves = closing holds by construction (and is checked)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.money import Cents


@dataclass(frozen=True)
class Moved:
    """One ledger entry as the statement sees it: the signed move and the balance after it."""

    cash: Cents
    gift: Cents
    balance_cash: Cents
    balance_gift: Cents


@dataclass(frozen=True)
class Totals:
    opening_cash: Cents
    opening_gift: Cents
    moved_cash: Cents
    moved_gift: Cents
    closing_cash: Cents
    closing_gift: Cents


class Unreconciled(ValueError):
    """The entries' running balances do not follow from their moves (a ledger out of order)."""


def totals(entries: Sequence[Moved], before: Moved | None) -> Totals:
    """The month's totals: `entries` in ledger order, `before` the last entry before the month (None:
    the account had none). Opening is the balance before the first entry (or after `before`)."""
    if entries:
        first = entries[0]
        opening = (first.balance_cash - first.cash, first.balance_gift - first.gift)
    elif before is not None:
        opening = (before.balance_cash, before.balance_gift)
    else:
        opening = (0, 0)
    cash, gift = opening
    for e in entries:
        cash, gift = cash + e.cash, gift + e.gift
        if (cash, gift) != (e.balance_cash, e.balance_gift):
            raise Unreconciled(f"the balance after an entry is {e.balance_cash}/{e.balance_gift}, not {cash}/{gift}")
    moved = (sum(e.cash for e in entries), sum(e.gift for e in entries))
    return Totals(opening[0], opening[1], moved[0], moved[1], cash, gift)
