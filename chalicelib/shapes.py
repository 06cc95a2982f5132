"""Read views: items as the contract's JSON shapes (used by the API and the console)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from chalicelib.domain.calendar import iso
from chalicelib.domain.money import Cents, fmt
from chalicelib.domain.orders import Refund
from chalicelib.domain.statements import Totals
from chalicelib.store.dynamodb.models import (
    AccountModel,
    AppModel,
    LedgerModel,
    NotificationModel,
    OrderModel,
    VoucherModel,
)
from chalicelib.store.dynamodb.usage_models import BillModel


def _iso(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def balance(cash: Cents, gift: Cents) -> dict[str, str]:
    return {"cash": fmt(cash), "gift": fmt(gift), "total": fmt(cash + gift)}


def money3(cash: Cents, gift: Cents) -> dict[str, str]:
    return {"total": fmt(cash + gift), "cash": fmt(cash), "gift": fmt(gift)}


def account(a: AccountModel) -> dict[str, Any]:
    return {
        "account_id": a.account_id,
        "email": a.email,
        "phone": a.phone,
        "status": a.status,
        "arrears_since": _iso(a.arrears_since),
        "balance": balance(int(a.cash), int(a.gift)),
        "apps_count": int(a.apps_count),
        "created_at": _iso(a.created_at),
    }


def app(a: AppModel) -> dict[str, Any]:
    return {
        "sdkappid": int(a.sdkappid),
        "account_id": a.account_id,
        "name": a.name,
        "region": a.region,
        "edition": a.edition,
        "status": a.status,
        "stop_reason": a.stop_reason,
        "created_at": _iso(a.created_at),
        "expires_at": _iso(a.expires_at),
        "auto_renew": bool(a.auto_renew),
        "stopped_at": _iso(a.stopped_at),
        "disabled_at": _iso(a.disabled_at),
        "disabled_reason": (a.disabled_reason or "refunded") if a.status == "disabled" else None,
    }


def order_status(o: OrderModel, now: datetime) -> str:
    if o.refunded:
        return "refunded"
    if now < o.starts_at:
        return "pending"
    if now >= o.ends_at:
        return "expired"
    return "active"


def order(o: OrderModel, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "order_id": o.order_id,
        "sdkappid": int(o.sdkappid),
        "account_id": o.account_id,
        "product": o.product,
        "kind": o.kind,
        "months": int(o.months),
        "starts_at": _iso(o.starts_at),
        "ends_at": _iso(o.ends_at),
        "price": fmt(int(o.price)),
        "voucher_id": o.voucher_id,
        "voucher_amount": fmt(int(o.voucher_amount)),
        "paid_cash": fmt(int(o.paid_cash)),
        "paid_gift": fmt(int(o.paid_gift)),
        "status": order_status(o, now),
        "periods": [
            {
                "starts_at": _iso(p.starts_at),
                "ends_at": _iso(p.ends_at),
                "paid_cash": fmt(int(p.paid_cash)),
                "paid_gift": fmt(int(p.paid_gift)),
            }
            for p in o.periods
        ],
    }
    if o.tier is not None:
        out["tier"] = o.tier
        out["quantity"] = int(o.quantity)
    return out


def purchase(o: OrderModel, a: AppModel, acct: AccountModel, credit: Refund | None, now: datetime) -> dict[str, Any]:
    """{"order", "app", "balance", "credit"}: the answer of every prepaid purchase."""
    return {
        "order": order(o, now),
        "app": app(a),
        "balance": balance(int(acct.cash), int(acct.gift)),
        "credit": money3(credit.cash, credit.gift) if credit is not None else None,
    }


def purchase_quote(o: OrderModel, acct: AccountModel, credit: Refund | None, now: datetime) -> dict[str, Any]:
    """What a purchase would charge now: its order's amounts and the balance after (nothing written).
    `amount_due` is what the balance pays net: the paid cash and gift less an upgrade's credit
    (negative when the credit is the larger)."""
    credited = credit.total if credit is not None else 0
    return {
        "product": o.product,
        "kind": o.kind,
        "tier": o.tier,
        "months": int(o.months),
        "at": iso(now),
        "starts_at": _iso(o.starts_at),
        "ends_at": _iso(o.ends_at),
        "price": fmt(int(o.price)),
        "voucher_amount": fmt(int(o.voucher_amount)),
        "paid_cash": fmt(int(o.paid_cash)),
        "paid_gift": fmt(int(o.paid_gift)),
        "credit": money3(credit.cash, credit.gift) if credit is not None else None,
        "amount_due": fmt(int(o.paid_cash) + int(o.paid_gift) - credited),
        "balance_after": balance(int(acct.cash), int(acct.gift)),
    }


def refund_quote(product: str, at: datetime, r: Refund) -> dict[str, Any]:
    return {
        "product": product,
        "at": iso(at),
        "current_amount": fmt(r.current_amount),
        "not_started_amount": fmt(r.not_started_amount),
        "used_value": fmt(r.used_value),
        "total": fmt(r.total),
        "cash": fmt(r.cash),
        "gift": fmt(r.gift),
    }


def ledger_entry(e: LedgerModel) -> dict[str, Any]:
    return {
        "entry_id": f"{e.account_id}-{int(e.seq):08d}",
        "at": _iso(e.at),
        "kind": e.kind,
        "cash": fmt(int(e.cash)),
        "gift": fmt(int(e.gift)),
        "balance_cash": fmt(int(e.balance_cash)),
        "balance_gift": fmt(int(e.balance_gift)),
        "ref": e.ref,
    }


def voucher(v: VoucherModel) -> dict[str, Any]:
    return {
        "voucher_id": v.voucher_id,
        "amount": fmt(int(v.amount)),
        "expires_at": _iso(v.expires_at),
        "used_by_order": v.used_by_order,
    }


def notification(n: NotificationModel) -> dict[str, Any]:
    return {
        "notification_id": n.notification_id,
        "at": iso(n.at),
        "kind": n.kind,
        "channel": n.channel,
        "to": n.to,
        "sdkappid": int(n.sdkappid) if n.sdkappid is not None else None,
        "subject": n.subject,
        "body": n.body,
        "status": n.status or "sent",
        "sent_at": iso(n.sent_at) if n.sent_at else None,
        "contact_id": n.contact_id or "account",
    }


def ops_notification(n: NotificationModel) -> dict[str, Any]:
    """A notification as operators see it: with its account, delivery status, attempts and last error."""
    return {**notification(n), "account_id": n.account_id, "status": n.status,
            "attempts": int(n.attempts or 0), "last_error": n.last_error}


def bill(b: BillModel) -> dict[str, Any]:
    return {
        "bill_id": f"{b.account_id}-{b.kind}-{b.period}",
        "account_id": b.account_id,
        "kind": b.kind,
        "period": b.period,
        "lines": [
            {
                "sdkappid": int(line.sdkappid),
                "item": line.item,
                "quantity": int(line.quantity),
                "unit_price": line.unit_price,
                "amount": fmt(int(line.amount)),
            }
            for line in b.lines
        ],
        "total": fmt(int(b.total)),
        "posted_at": iso(b.posted_at),
        "charged_cash": fmt(int(b.charged_cash)),
        "charged_gift": fmt(int(b.charged_gift)),
    }


STATEMENT_COLUMNS = ("record", "at", "kind", "ref", "sdkappid", "item", "quantity", "unit_price", "amount",
                     "cash", "gift", "balance_cash", "balance_gift")


def statement(account_id: str, month: str, zone: str, start: datetime, end: datetime, t: Totals,
              entries: list[LedgerModel], bills: list[BillModel]) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "month": month,
        "zone": zone,
        "starts_at": iso(start),
        "ends_at": iso(end),
        "opening": balance(t.opening_cash, t.opening_gift),
        "moved": balance(t.moved_cash, t.moved_gift),
        "closing": balance(t.closing_cash, t.closing_gift),
        "entries": [ledger_entry(e) for e in entries],
        "bills": [bill(b) for b in bills],
    }


def statement_csv(data: dict[str, Any]) -> str:
    """The statement (as :func:`statement` renders it) as CSV: an `opening` row, one `entry` row per
    ledger entry (signed cash and gift, the balance after), a `closing` row, then one `bill_line` row
    per line of each bill. The `entry` rows' cash and gift add up from opening to closing."""
    out = io.StringIO()
    w = csv.DictWriter(out, STATEMENT_COLUMNS, lineterminator="\r\n")
    w.writeheader()
    o, c = data["opening"], data["closing"]
    w.writerow({"record": "opening", "at": data["starts_at"], "balance_cash": o["cash"], "balance_gift": o["gift"]})
    for e in data["entries"]:
        w.writerow({"record": "entry", "at": e["at"], "kind": e["kind"], "ref": e["ref"] or "", "cash": e["cash"],
                    "gift": e["gift"], "balance_cash": e["balance_cash"], "balance_gift": e["balance_gift"]})
    w.writerow({"record": "closing", "at": data["ends_at"], "balance_cash": c["cash"], "balance_gift": c["gift"]})
    for b in data["bills"]:
        for line in b["lines"]:
            w.writerow({"record": "bill_line", "at": b["posted_at"], "kind": f"{b['kind']} {b['period']}",
                        "ref": b["bill_id"], "sdkappid": line["sdkappid"], "item": line["item"],
                        "quantity": line["quantity"], "unit_price": line["unit_price"], "amount": line["amount"]})
    return out.getvalue()
