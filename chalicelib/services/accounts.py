"""Use cases on accounts: create, top up, vouchers, reads of the ledger."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.domain.arrears import AccountStatus
from chalicelib.domain.calendar import iso
from chalicelib.domain.errors import Conflict, InvalidRequest, NotFound
from chalicelib.domain.money import Cents
from chalicelib.services import idempotency
from chalicelib.services.billing import end_arrears
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import Idem, Response
from chalicelib.services.ledger import Move, post
from chalicelib.store import uow, views
from chalicelib.store.models import AccountModel, LedgerModel, VoucherModel, due_shard
from chalicelib.store.paging import Page, page


def load_account(ctx: Ctx, account_id: str, consistent: bool = True) -> AccountModel:
    ctx.principal.check_account(account_id)
    try:
        return AccountModel.get(account_id, consistent_read=consistent)
    except AccountModel.DoesNotExist:
        raise NotFound(f"account {account_id} not found") from None


def create_account(ctx: Ctx, account_id: str, email: str, phone: str, idem: Idem = idempotency.NONE) -> dict[str, Any]:
    ctx.principal.require("operator")

    def act(tx: TransactWrite) -> Response:
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
        if AccountModel.count(account_id, consistent_read=True, limit=1):
            raise Conflict(f"account {account_id} already exists")
        tx.save(acct, condition=AccountModel.account_id.does_not_exist())
        return 201, views.account(acct)

    return idempotency.once(idem, ctx.now, ctx.catalog.lifecycle("idempotency_ttl_hours"), act)[1]


def get_account(ctx: Ctx, account_id: str) -> dict[str, Any]:
    return views.account(load_account(ctx, account_id, consistent=False))


def topup(ctx: Ctx, account_id: str, amount: Cents, kind: str, idem: Idem) -> Response:
    """Operators add cash or gift credit; a top-up that clears arrears ends them (arrears module)."""
    ctx.principal.require("operator")
    ttl = ctx.catalog.lifecycle("idempotency_ttl_hours")

    def attempt() -> Response:
        with uow.read() as tg:
            acct_f = tg.get(AccountModel, account_id)
            idem_f = idempotency.fetch(tg, idem)
        done = idempotency.resolve(idem_f, idem)
        if done is not None:
            return done
        try:
            acct = acct_f.get()
        except AccountModel.DoesNotExist:
            raise NotFound(f"account {account_id} not found") from None
        move = Move("topup", amount if kind == "cash" else 0, amount if kind == "gift" else 0, ref=kind)
        with uow.write() as tx:
            (entry,) = post(tx, acct, [move], ctx.now, then=lambda a: end_arrears(tx, ctx, a))
            response: Response = (
                201,
                {"balance": views.balance(int(acct.cash), int(acct.gift)), "entry": views.ledger_entry(entry)},
            )
            idempotency.record(tx, idem, response, ctx.now, ttl)
        return response

    return idempotency.run(idem, attempt)


def create_voucher(ctx: Ctx, account_id: str, amount: Cents, expires_at: datetime | None,
                   idem: Idem = idempotency.NONE) -> dict[str, Any]:
    ctx.principal.require("operator")
    if expires_at is not None and expires_at <= ctx.now:
        raise InvalidRequest(f"expires_at must lie after now ({iso(ctx.now)})")

    def act(tx: TransactWrite) -> Response:
        load_account(ctx, account_id, consistent=False)
        v = VoucherModel(
            account_id,
            f"v{ctx.now:%Y%m%d%H%M%S}{secrets.token_hex(4)}",
            amount=amount,
            expires_at=expires_at,
            created_at=ctx.now,
        )
        tx.save(v, condition=VoucherModel.voucher_id.does_not_exist())
        return 201, views.voucher(v)

    return idempotency.once(idem, ctx.now, ctx.catalog.lifecycle("idempotency_ttl_hours"), act)[1]


def list_vouchers(ctx: Ctx, account_id: str, limit: int, token: str | None) -> Page:
    ctx.principal.check_account(account_id)
    return page(VoucherModel.query, account_id, views.voucher, limit, token)


def list_ledger(ctx: Ctx, account_id: str, limit: int, token: str | None) -> Page:
    ctx.principal.check_account(account_id)
    return page(LedgerModel.query, account_id, views.ledger_entry, limit, token, consistent=True)
