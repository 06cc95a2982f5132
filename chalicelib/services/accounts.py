"""Use cases on accounts: create, top up, vouchers, reads of the ledger. They store through the
unit of work (ctx.uow) and answer records; the API renders them (chalicelib/api/accounts.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from chalicelib import shapes
from chalicelib.domain import contacts
from chalicelib.domain.arrears import AccountStatus
from chalicelib.domain.calendar import iso
from chalicelib.domain.contacts import Contact
from chalicelib.domain.errors import Conflict, InvalidRequest, NotFound
from chalicelib.domain.money import Cents
from chalicelib.services import events, idempotency
from chalicelib.services.billing import end_arrears
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import Answer, Idem, Response
from chalicelib.services.ledger import Move, book
from chalicelib.store.dynamodb.models import AccountModel, LedgerModel, VoucherModel, due_shard
from chalicelib.store.port import Page, UnitOfWork


@dataclass(frozen=True)
class TopUp:
    """A committed top-up: the account with its new balance, and the ledger entry of the move."""

    account: AccountModel
    entry: LedgerModel


def load_account(ctx: Ctx, uow: UnitOfWork, account_id: str, consistent: bool = True) -> AccountModel:
    ctx.principal.check_account(account_id)
    acct = uow.accounts.get(account_id, consistent=consistent)
    if acct is None:
        raise NotFound(f"account {account_id} not found")
    return acct


def create_account(ctx: Ctx, account_id: str, email: str, phone: str, idem: Idem,
                   answer: Answer[AccountModel]) -> Response:
    ctx.principal.require("operator")

    def act(uow: UnitOfWork) -> AccountModel:
        if uow.accounts.get(account_id) is not None:
            raise Conflict(f"account {account_id} already exists")
        acct = AccountModel(
            account_id,
            email=email,
            phone=phone,
            status=AccountStatus.ACTIVE.value,
            due_shard=due_shard(account_id),
            cash=0,
            gift=0,
            apps_count=0,
            ledger_seq=0,
            version=0,
            created_at=ctx.now,
        )
        uow.accounts.add(acct)
        events.emit(uow, ctx, "account.created", account_id=account_id)
        return acct

    return idempotency.once_in(ctx, idem, act, answer)


def get_account(ctx: Ctx, account_id: str) -> AccountModel:
    with ctx.uow() as uow:
        return load_account(ctx, uow, account_id, consistent=False)


def topup(ctx: Ctx, account_id: str, amount: Cents, kind: str, idem: Idem, answer: Answer[TopUp]) -> Response:
    """Operators add cash or gift credit; a top-up that clears arrears ends them (arrears module)."""
    ctx.principal.require("operator")

    def act(uow: UnitOfWork) -> TopUp:
        acct = uow.accounts.get(account_id)
        if acct is None:
            raise NotFound(f"account {account_id} not found")
        move = Move("topup", amount if kind == "cash" else 0, amount if kind == "gift" else 0, ref=kind)
        was = acct.status
        (entry,) = book(ctx, uow, acct, [move], then=lambda a: end_arrears(uow, ctx, a))
        ended = was == AccountStatus.ARREARS.value and acct.status != was
        events.emit(uow, ctx, "account.arrears_ended" if ended else "account.topped_up", account_id=account_id)
        return TopUp(acct, entry)

    return idempotency.once_in(ctx, idem, act, answer)


def create_voucher(ctx: Ctx, account_id: str, amount: Cents, expires_at: datetime | None, idem: Idem,
                   answer: Answer[VoucherModel]) -> Response:
    ctx.principal.require("operator")
    if expires_at is not None and expires_at <= ctx.now:
        raise InvalidRequest(f"expires_at must lie after now ({iso(ctx.now)})")

    def act(uow: UnitOfWork) -> VoucherModel:
        load_account(ctx, uow, account_id, consistent=False)
        v = VoucherModel(
            account_id,
            f"v{ctx.now:%Y%m%d%H%M%S}{secrets.token_hex(4)}",
            amount=amount,
            expires_at=expires_at,
            created_at=ctx.now,
        )
        uow.vouchers.add(v)
        events.emit(uow, ctx, "voucher.granted", account_id=account_id)
        return v

    return idempotency.once_in(ctx, idem, act, answer)


def list_vouchers(ctx: Ctx, account_id: str, limit: int, token: str | None) -> Page[VoucherModel]:
    ctx.principal.check_account(account_id)
    with ctx.uow() as uow:
        return uow.vouchers.page(account_id, limit, token)


def list_ledger(ctx: Ctx, account_id: str, limit: int, token: str | None, start: datetime | None = None,
                end: datetime | None = None, newest_first: bool = False) -> Page[LedgerModel]:
    """One page of the account's ledger (oldest or newest first), of the entries at [start, end)."""
    ctx.principal.check_account(account_id)
    with ctx.uow() as uow:
        return uow.ledger.page_between(account_id, "at", start, end, limit, token, newest_first=newest_first,
                                       consistent=True)


# ---------------------------------------------------------------- account controls (issue 18; billing-rules 7a)
def _updated(uow: UnitOfWork, ctx: Ctx, acct: AccountModel) -> None:
    """The event of a change to the account's contact, contacts or balance alert: the account after it."""
    events.emit(uow, ctx, "account.updated", account_id=acct.account_id, data=shapes.account(acct))


def update_account(ctx: Ctx, account_id: str, email: str | None, phone: str | None,
                   answer: Answer[AccountModel]) -> Response:
    """PATCH /v1/accounts/{id}: the account's own contact (its e-mail and phone)."""
    ctx.principal.require("operator", "customer")

    def act(uow: UnitOfWork) -> AccountModel:
        acct = load_account(ctx, uow, account_id)
        if email is not None:
            acct.email = email
        if phone is not None:
            acct.phone = phone
        uow.accounts.save(acct)
        _updated(uow, ctx, acct)
        return acct

    return idempotency.once_in(ctx, idempotency.NONE, act, answer)


def list_contacts(ctx: Ctx, account_id: str) -> tuple[AccountModel, dict[str, tuple[str, ...]], list[Contact]]:
    """The account (its own contact) with its subscriptions, and the further contacts."""
    with ctx.uow() as uow:
        acct = load_account(ctx, uow, account_id)
    own, others = contacts.load(acct.contacts)
    return acct, own, others


def put_contacts(ctx: Ctx, account_id: str, own: dict[str, tuple[str, ...]] | None, others: list[Contact],
                 answer: Answer[AccountModel]) -> Response:
    """PUT /v1/accounts/{id}/contacts: the further contacts (replaced) and, when listed, the own
    contact's subscriptions (its e-mail and phone change with PATCH)."""
    ctx.principal.require("operator", "customer")

    def act(uow: UnitOfWork) -> AccountModel:
        acct = load_account(ctx, uow, account_id)
        kept, _ = contacts.load(acct.contacts)
        subscriptions = kept if own is None else own
        contacts.check(subscriptions, others)
        acct.contacts = contacts.dump(subscriptions, others)
        uow.accounts.save(acct)
        _updated(uow, ctx, acct)
        return acct

    return idempotency.once_in(ctx, idempotency.NONE, act, answer)


def set_balance_alert(ctx: Ctx, account_id: str, threshold: Cents | None,
                      answer: Answer[AccountModel]) -> Response:
    """PUT /v1/accounts/{id}/balance-alert: armed when cash + gift is at or above the threshold now."""
    ctx.principal.require("operator", "customer")

    def act(uow: UnitOfWork) -> AccountModel:
        acct = load_account(ctx, uow, account_id)
        alert = contacts.set_threshold(threshold, int(acct.cash) + int(acct.gift))
        acct.alert_threshold = alert.threshold
        acct.alert_armed = alert.armed if alert.threshold is not None else None
        uow.accounts.save(acct)
        _updated(uow, ctx, acct)
        return acct

    return idempotency.once_in(ctx, idempotency.NONE, act, answer)
