"""Renewal management and account controls (issue 18): the packages view, renewal modes, batch renewal,
the account's contact, further contacts and the balance alert."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import shapes
from chalicelib.api import schemas as s
from chalicelib.api.http import Call, int_param, route
from chalicelib.domain import contacts
from chalicelib.domain.calendar import iso
from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.money import fmt
from chalicelib.domain.renewal import package_state
from chalicelib.services import accounts, renewals
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import Response
from chalicelib.services.renewals import Item, Plan, Reserved
from chalicelib.store.dynamodb.models import AccountModel, PackageModel
from chalicelib.store.port import PackageFilter

bp = Blueprint(__name__)


def package(ctx: Ctx, p: PackageModel) -> dict[str, Any]:
    return {
        "sdkappid": int(p.sdkappid),
        "app_name": p.app_name,
        "region": p.region,
        "product": p.product,
        "tier": p.tier,
        "expires_at": iso(p.expires_at),
        "renewal": p.renewal,
        "monthly_price": fmt(renewals.package_price(ctx, p)),
        "state": package_state(p.expires_at, bool(p.in_service), ctx.now, ctx.catalog).value,
    }


def quoted(plan: Plan) -> dict[str, Any]:
    pay = plan.payment
    return {
        "items": [{"sdkappid": p.sdkappid, "product": p.product, "months": p.months, "price": fmt(p.price),
                   "voucher_amount": fmt(p.voucher), "paid_cash": fmt(p.cash), "paid_gift": fmt(p.gift),
                   "starts_at": iso(p.starts_at), "ends_at": iso(p.ends_at)} for p in plan.items],
        "total": fmt(pay.total), "cash": fmt(pay.cash), "gift": fmt(pay.gift), "voucher": fmt(pay.voucher),
        "covered": pay.covered, "shortfall": fmt(pay.shortfall),
    }


def renewed(r: Reserved) -> Response:
    acct, pay, at = r.plan.account, r.plan.payment, r.batch.created_at
    return 201, {
        "renewal_id": r.batch.renewal_id,
        "orders": [shapes.order(renewals.order_of(acct.account_id, p, at), at) for p in r.plan.items],
        "balance": shapes.balance(int(acct.cash) - pay.cash, int(acct.gift) - pay.gift),
    }


def _items(body: Any) -> list[Item]:
    return [Item(i.sdkappid, i.product, i.months) for i in body.items]


def _instant_query(call: Call, name: str) -> Any:
    raw = call.query(name)
    if raw is None:
        return None
    try:
        return s.instant(raw)
    except ValueError as err:
        raise InvalidRequest(f"{name}: {err}") from None


@route(bp, "/v1/accounts/{account_id}/packages", summary="The account's packages sorted by expiry",
       answer=s.page_of(s.Package),
       query=("expires_after", "expires_before", "product", "region", "renewal", "limit", "next_token"))
def list_packages(call: Call, account_id: str) -> dict[str, Any]:
    where = PackageFilter(after=_instant_query(call, "expires_after"), before=_instant_query(call, "expires_before"),
                          product=call.query("product"), region=call.query("region"), renewal=call.query("renewal"))
    found = renewals.list_packages(call.ctx, account_id, where, call.limit(), call.query("next_token"))
    return {"items": [package(call.ctx, p) for p in found.items], "next_token": found.next_token}


@route(bp, "/v1/apps/{sdkappid}/renewal", "PUT", summary="Set a package's renewal mode (auto, manual, none)",
       body=s.RenewalSet, answer=s.Package, errors=(409, 410))
def set_renewal_mode(call: Call, sdkappid: str) -> dict[str, Any]:
    b = call.body
    return package(call.ctx, renewals.set_mode(call.ctx, int_param(sdkappid), b.product, b.mode))


@route(bp, "/v1/accounts/{account_id}/renewals/quote", "POST", summary="Quote a batch renewal (no side effect)",
       body=s.RenewalsCreate, answer=s.RenewalQuote, status=200, errors=(409,))
def quote_renewals(call: Call, account_id: str) -> tuple[int, dict[str, Any]]:
    b = call.body
    return 200, quoted(renewals.quote(call.ctx, account_id, _items(b), b.voucher_id, b.voucher_item))


@route(bp, "/v1/accounts/{account_id}/renewals", "POST", summary="Renew up to 100 packages at once",
       body=s.RenewalsCreate, answer=s.RenewalResult, status=201, idempotent=True, errors=(402, 409))
def create_renewals(call: Call, account_id: str) -> Response:
    b = call.body
    return renewals.renew(call.ctx, account_id, _items(b), b.voucher_id, b.voucher_item,
                          call.idem(f"renewals:{account_id}"), renewed)


# ------------------------------------------------------------------ account controls (billing-rules 7a)
def account_changed(a: AccountModel) -> Response:
    return 200, shapes.account(a)


def contact_list(acct: AccountModel) -> dict[str, Any]:
    own, others = contacts.load(acct.contacts)
    mine = {"contact_id": contacts.ACCOUNT, "name": None, "email": acct.email, "phone": acct.phone,
            "subscriptions": {k: list(v) for k, v in own.items()}}
    return {"items": [mine, *({"contact_id": c.contact_id, "name": c.name, "email": c.email, "phone": c.phone,
                               "subscriptions": {k: list(v) for k, v in c.subscriptions.items()}} for c in others)]}


def contacts_changed(a: AccountModel) -> Response:
    return 200, contact_list(a)


def alert_changed(a: AccountModel) -> Response:
    threshold = None if a.alert_threshold is None else fmt(int(a.alert_threshold))
    return 200, {"threshold": threshold, "armed": bool(a.alert_armed)}


@route(bp, "/v1/accounts/{account_id}", "PATCH", summary="Change the account's e-mail or phone",
       body=s.AccountPatch, answer=s.Account)
def update_account(call: Call, account_id: str) -> Response:
    b = call.body
    return accounts.update_account(call.ctx, account_id, b.email, b.phone, account_changed)


@route(bp, "/v1/accounts/{account_id}/contacts", summary="Who is told: the account's own contact first",
       answer=s.ContactList)
def list_contacts(call: Call, account_id: str) -> dict[str, Any]:
    acct, _, _ = accounts.list_contacts(call.ctx, account_id)
    return contact_list(acct)


@route(bp, "/v1/accounts/{account_id}/contacts", "PUT",
       summary="Set up to 10 contacts besides the account's own, with their subscriptions",
       body=s.ContactsPut, answer=s.ContactList)
def put_contacts(call: Call, account_id: str) -> Response:
    own = None
    others = []
    for c in call.body.items:
        subs = {k: tuple(v) for k, v in c.subscriptions.items()}
        if c.contact_id == contacts.ACCOUNT:
            if own is not None:
                raise InvalidRequest("items: the account's own contact at most once")
            own = {**{k: () for k in contacts.KINDS}, **subs}
        else:
            others.append(contacts.Contact(c.contact_id, c.name, c.email, c.phone, subs))
    return accounts.put_contacts(call.ctx, account_id, own, others, contacts_changed)


@route(bp, "/v1/accounts/{account_id}/balance-alert", "PUT", summary="Set or clear the balance alert's threshold",
       body=s.BalanceAlertSet, answer=s.BalanceAlert)
def set_balance_alert(call: Call, account_id: str) -> Response:
    raw = call.body.threshold
    return accounts.set_balance_alert(call.ctx, account_id, None if raw is None else s.cents(raw), alert_changed)
