"""Accounts: create, read, top-ups, vouchers, ledger, the account's apps."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chalice import Blueprint
from chalice import Response as ChaliceResponse

from chalicelib import shapes
from chalicelib.api import schemas as s
from chalicelib.api.apps import app_created
from chalicelib.api.http import Call, route
from chalicelib.domain.calendar import is_period
from chalicelib.domain.errors import InvalidRequest
from chalicelib.services import accounts, apps, billing, notifications, statements
from chalicelib.services.accounts import TopUp
from chalicelib.services.idempotency import Response
from chalicelib.store.dynamodb.models import AccountModel, VoucherModel
from chalicelib.store.port import Page

bp = Blueprint(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def account_created(a: AccountModel) -> Response:
    return 201, shapes.account(a)


def topped_up(t: TopUp) -> Response:
    balance = shapes.balance(int(t.account.cash), int(t.account.gift))
    return 201, {"balance": balance, "entry": shapes.ledger_entry(t.entry)}


def voucher_created(v: VoucherModel) -> Response:
    return 201, shapes.voucher(v)


def listed(page: Page[Any], render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    return {"items": [render(item) for item in page.items], "next_token": page.next_token}


@route(bp, "/v1/accounts", "POST", summary="Create an account (operator)", body=s.AccountCreate,
       answer=s.Account, status=201, idempotent=True, errors=(409,))
def create_account(call: Call) -> Response:
    b = call.body
    return accounts.create_account(call.ctx, b.account_id, b.email, b.phone, call.idem("account"), account_created)


@route(bp, "/v1/accounts/{account_id}", summary="Read an account", answer=s.Account)
def get_account(call: Call, account_id: str) -> dict[str, Any]:
    return shapes.account(accounts.get_account(call.ctx, account_id))


@route(bp, "/v1/accounts/{account_id}/topups", "POST", summary="Add cash or gift credit (operator)",
       body=s.TopupCreate, answer=s.TopupResult, status=201, idempotent=True, errors=(409,))
def top_up_account(call: Call, account_id: str) -> Response:
    b = call.body
    return accounts.topup(call.ctx, account_id, s.cents(b.amount), b.kind, call.idem(f"topup:{account_id}"),
                          topped_up)


@route(bp, "/v1/accounts/{account_id}/vouchers", "POST", summary="Grant a voucher (operator)",
       body=s.VoucherCreate, answer=s.Voucher, status=201, idempotent=True, errors=(409,))
def create_voucher(call: Call, account_id: str) -> Response:
    b = call.body
    return accounts.create_voucher(call.ctx, account_id, s.cents(b.amount), s.instant(b.expires_at),
                                   call.idem(f"voucher:{account_id}"), voucher_created)


@route(bp, "/v1/accounts/{account_id}/vouchers", summary="List vouchers", answer=s.page_of(s.Voucher),
       query=("limit", "next_token"))
def list_vouchers(call: Call, account_id: str) -> dict[str, Any]:
    return listed(accounts.list_vouchers(call.ctx, account_id, call.limit(), call.query("next_token")), shapes.voucher)


@route(bp, "/v1/accounts/{account_id}/ledger", summary="Ledger entries, oldest first (?order=newest: newest "
       "first), of a date range (?from=&to=); a page may be short: follow next_token",
       answer=s.page_of(s.LedgerEntry), query=("from", "to", "order", "limit", "next_token"))
def list_ledger(call: Call, account_id: str) -> dict[str, Any]:
    start, end = call.window()
    newest = call.flag("order", ("oldest", "newest")) == "newest"
    return listed(accounts.list_ledger(call.ctx, account_id, call.limit(), call.query("next_token"), start, end,
                                       newest), shapes.ledger_entry)


@route(bp, "/v1/accounts/{account_id}/apps", summary="List the account's apps", answer=s.page_of(s.App),
       query=("limit", "next_token"))
def list_apps(call: Call, account_id: str) -> dict[str, Any]:
    return listed(apps.list_apps(call.ctx, account_id, call.limit(), call.query("next_token")), shapes.app)


@route(bp, "/v1/accounts/{account_id}/apps", "POST", summary="Create an app on the Developer edition",
       body=s.AppCreate, answer=s.App, status=201, idempotent=True, errors=(409,))
def create_app(call: Call, account_id: str) -> dict[str, Any]:
    return apps.create_app(call.ctx, account_id, call.body.name, call.body.region, call.idem(f"app:{account_id}"),
                           app_created)[1]


@route(bp, "/v1/accounts/{account_id}/notifications", summary="Notifications sent, oldest first",
       answer=s.page_of(s.Notification), query=("limit", "next_token"))
def list_notifications(call: Call, account_id: str) -> dict[str, Any]:
    page = notifications.list_notifications(call.ctx, account_id, call.limit(), call.query("next_token"))
    return {"items": [shapes.notification(n) for n in page.items], "next_token": page.next_token}


@route(bp, "/v1/accounts/{account_id}/bills", summary="Postpaid bills (?period=2026-05 or 2026-05-10, or those "
       "posted in a date range ?from=&to=)", answer=s.page_of(s.Bill), query=("period", "from", "to", "limit",
                                                                              "next_token"))
def list_bills(call: Call, account_id: str) -> dict[str, Any]:
    period = call.query("period")
    if period is not None and not is_period(period):
        raise InvalidRequest("period must be YYYY-MM or YYYY-MM-DD")
    start, end = call.window()
    if period is not None and (start or end):
        raise InvalidRequest("give period or from/to, not both")
    found = billing.list_bills(call.ctx, account_id, period, call.limit(), call.query("next_token"), start, end)
    return {"items": [shapes.bill(b) for b in found.items], "next_token": found.next_token}


@route(bp, "/v1/accounts/{account_id}/statements/{month}", summary="A local month's statement: opening and closing "
       "balance, every ledger entry, every bill posted in the month (?format=csv: text/csv)", answer=s.Statement,
       query=("format",), csv=True)
def get_statement(call: Call, account_id: str, month: str) -> dict[str, Any] | ChaliceResponse:
    if not is_period(month, day=False) or month >= "9000":
        raise InvalidRequest("month must be YYYY-MM, from 1970 to 8999")
    as_csv = call.flag("format", ("json", "csv")) == "csv"
    st = statements.statement(call.ctx, account_id, month)
    data = shapes.statement(st.account.account_id, st.month, call.ctx.tz.key, st.start, st.end, st.totals,
                           st.entries, st.bills)
    if not as_csv:
        return data
    return ChaliceResponse(body=shapes.statement_csv(data), status_code=200, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="statement-{_SAFE.sub("_", account_id)}-{month}.csv"'})
