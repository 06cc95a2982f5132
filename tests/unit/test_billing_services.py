"""Posting bills (the daily push quota bill, a monthly bill) on the in-memory unit of work: a bill is
posted once, charged cash then gift in its own commit with its notices, a shortfall enters arrears,
and an app with no quota above the included one leaves the push-billing index. The same through
the jobs and DynamoDB is in tests/integration/test_settlement.py and tests/api/test_plugins.py."""

from __future__ import annotations

from datetime import date, timedelta

from chalicelib import shapes
from chalicelib.api.apps import bought
from chalicelib.api.plugins import quota_set
from chalicelib.domain.bills import Line
from chalicelib.services import billing, plugins
from chalicelib.services.idempotency import NONE
from chalicelib.store.dynamodb.models import due_shard
from chalicelib.store.dynamodb.usage_models import BillModel
from tests.fakes.uow import FakeStore, FakeUnitOfWork
from tests.unit.test_lifecycle_services import outbox
from tests.unit.test_purchase_services import account, at, ctx_at, ledger, new_app, stored_app


def bill(tables: FakeStore, key: str) -> BillModel:
    found = FakeUnitOfWork(tables).bills.get("acme", key)
    assert found is not None
    return found


def push_app(tables: FakeStore, cash: int, quota: int) -> int:
    """An app with the push plugin bought 2026-03-10T14:00Z and a daily quota of `quota` from 2026-03-11T08:00Z."""
    sid = new_app(tables, at("2026-03-10T14:00:00"), cash=cash)
    plugins.buy_plugin(ctx_at(tables, at("2026-03-10T14:00:00")), sid, "push", 1, NONE, bought)
    plugins.set_push_quota(ctx_at(tables, at("2026-03-11T08:00:00")), sid, quota, lambda app: quota_set(quota))
    return sid


def push_bill(tables: FakeStore, day: date, sid: int) -> dict[str, int]:
    ctx = ctx_at(tables, at(f"{day + timedelta(days=1)}T00:30:00"))
    account_id, apps, _ = billing.reload_push_account(ctx, ("acme", [stored_app(tables, sid)], None))
    return billing.push_bill(ctx, day, account_id, apps)


def test_the_daily_push_bill_charges_the_quota_above_100_once(tables, notifier):
    sid = push_app(tables, 100000, 150)  # 1,000.00 - 299.00 for the plugin = 701.00
    assert push_bill(tables, date(2026, 3, 11), sid) == {"billed": 1, "released": 0}
    b = bill(tables, "2026-03-11#daily")
    assert (b.kind, b.period, int(b.total), int(b.charged_cash), int(b.charged_gift)) == (
        "daily", "2026-03-11", 50000, 50000, 0)
    assert [(x.item, int(x.quantity), x.unit_price, int(x.amount)) for x in b.lines] == [
        ("push_api_quota", 50, "10.00", 50000)]
    assert int(account(tables).cash) == 20100 and account(tables).status == "active"
    assert [(e.kind, int(e.cash), e.ref) for e in ledger(tables)][-1] == ("bill", -50000, "daily:2026-03-11")
    assert [(n.kind, n.channel, n.status) for n in outbox(tables)] == [
        ("bill", "email", "sent"), ("bill", "sms", "sent")]
    assert [kind for kind, _, _ in notifier.sent] == ["email", "sms"]
    # a second run of the same day posts nothing
    assert push_bill(tables, date(2026, 3, 11), sid) == {"skipped": 1, "released": 0}
    assert int(account(tables).cash) == 20100 and len(ledger(tables)) == 3 and len(outbox(tables)) == 2


def test_a_bill_the_balance_does_not_cover_enters_arrears_with_its_own_24_hours(tables, notifier):
    sid = push_app(tables, 100000, 150)
    push_bill(tables, date(2026, 3, 11), sid)
    assert push_bill(tables, date(2026, 3, 12), sid) == {"billed": 1, "released": 0}
    acct = account(tables)
    assert (int(acct.cash), int(acct.gift), acct.status) == (-29900, 0, "arrears")
    assert (acct.arrears_since, acct.arrears_due_at) == (at("2026-03-13T00:30:00"), at("2026-03-14T00:30:00"))
    kinds = sorted((n.kind, n.channel) for n in outbox(tables))
    assert kinds == [("arrears", "email"), ("arrears", "sms"), ("bill", "email"), ("bill", "email"), ("bill", "sms"),
                     ("bill", "sms")]
    assert len(notifier.sent) == 6


def test_an_app_back_at_the_included_quota_leaves_the_push_billing_index(tables, notifier):
    sid = push_app(tables, 100000, 150)
    assert stored_app(tables, sid).push_billing_shard == due_shard(sid)
    plugins.set_push_quota(ctx_at(tables, at("2026-03-13T08:00:00")), sid, 100, lambda app: quota_set(100))
    assert push_bill(tables, date(2026, 3, 13), sid) == {"billed": 1, "released": 0}  # 150 in force that day
    assert push_bill(tables, date(2026, 3, 14), sid) == {"no_charge": 1, "released": 1}
    assert stored_app(tables, sid).push_billing_shard is None and stored_app(tables, sid).push_quota == 100
    assert int(account(tables).cash) == 70100 - 50000


def test_a_monthly_bill_takes_cash_then_gift(tables, notifier):
    new_app(tables, at("2026-03-01T00:00:00"), cash=1000, gift=5000)
    ctx = ctx_at(tables, at("2026-04-01T02:00:00"))
    lines = [Line(1400000001, "mau_overage", 2000, "0.015", 3000)]
    assert billing.post_bill(ctx, "acme", "monthly", "2026-03", lines) == "billed"
    b = bill(tables, "2026-03#monthly")
    assert (int(b.total), int(b.charged_cash), int(b.charged_gift)) == (3000, 1000, 2000)
    assert (int(account(tables).cash), int(account(tables).gift)) == (0, 3000)
    assert billing.post_bill(ctx, "acme", "monthly", "2026-03", lines) == "skipped"
    assert (int(account(tables).cash), int(account(tables).gift)) == (0, 3000)


def test_bills_are_listed_by_exact_period_in_pages(tables, notifier):
    sid = push_app(tables, 100000, 150)
    push_bill(tables, date(2026, 3, 11), sid)
    push_bill(tables, date(2026, 3, 12), sid)
    ctx = ctx_at(tables, at("2026-04-01T02:00:00"))
    billing.post_bill(ctx, "acme", "monthly", "2026-03", [Line(sid, "mau_overage", 2000, "0.015", 3000)])
    assert [b.bill_key for b in billing.list_bills(ctx, "acme", "2026-03", 10, None).items] == ["2026-03#monthly"]
    assert [b.bill_key for b in billing.list_bills(ctx, "acme", "2026-03-12", 10, None).items] == ["2026-03-12#daily"]
    first = billing.list_bills(ctx, "acme", None, 2, None)
    rest = billing.list_bills(ctx, "acme", None, 2, first.next_token)
    assert [b.bill_key for b in first.items + rest.items] == ["2026-03#monthly", "2026-03-11#daily", "2026-03-12#daily"]
    assert rest.next_token is None
    assert shapes.bill(rest.items[0])["bill_id"] == "acme-daily-2026-03-12"
    assert shapes.bill(rest.items[0])["total"] == "500.00"
