"""Monthly settlement: reads only accounts with usage, one bill each, resumable, cheap per account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.jobs import runner
from chalicelib.services import billing
from chalicelib.store.dynamodb.models import AccountModel, AppModel, LedgerModel, NotificationModel, due_shard
from chalicelib.store.dynamodb.usage_models import BillModel, UsageModel
from tests.composed import contexts
from tests.helpers import Killed
from tests.integration.requests import count_requests

pytestmark = pytest.mark.storage
UTC_TZ = ZoneInfo("UTC")
MONTH = "2026-05"
RUN = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def seed(accounts: int, idle: int = 0, month: str = MONTH, legacy: bool = False) -> None:
    """`accounts` accounts with one Standard app and 12,345 MAU in the month; `idle` without usage.
    `legacy`: accounts written before they listed their apps (`app_ids`)."""
    created = datetime(2026, 4, 1, tzinfo=UTC)
    with AccountModel.batch_write() as acc, AppModel.batch_write() as apps, UsageModel.batch_write() as use:
        for i in range(accounts + idle):
            account_id = f"acct{i:05d}"
            sid = 1_600_000_000 + i
            acc.save(AccountModel(account_id, email=f"{account_id}@x.test", phone="+1555", created_at=created,
                                  due_shard=due_shard(account_id), cash=10_000, apps_count=1,
                                  app_ids=None if legacy else {sid}))
            apps.save(AppModel(sid, account_id=account_id, name="a", region="us", edition="standard",
                               status="enabled", created_at=created, expires_at=datetime(2026, 7, 1, tzinfo=UTC),
                               due_shard=due_shard(sid), had_paid=True))
            if i < accounts:
                use.save(UsageModel(sid, month, account_id=account_id, month_shard=f"{month}#{due_shard(account_id)}",
                                    account_app=f"{account_id}#{sid}", mau=12_345))


def state() -> list[tuple]:
    bills = sorted((b.account_id, b.bill_key, int(b.total), b.posted_at) for b in BillModel.scan())
    balances = sorted((a.account_id, int(a.cash), int(a.gift), a.status) for a in AccountModel.scan())
    ledger = sorted((e.account_id, int(e.seq), int(e.cash)) for e in LedgerModel.scan())
    return [bills, balances, ledger]


def settle(at: datetime = RUN) -> dict[str, int]:
    return runner.run_job("monthly-settlement", at, contexts(UTC_TZ))["summary"]


def test_settlement_on_days_1_2_3_posts_one_bill_per_account(store):
    seed(6, idle=3)
    assert settle(RUN)["billed"] == 6
    assert settle(datetime(2026, 6, 2, 2, tzinfo=UTC)) == {"billed": 0, "skipped": 6, "no_charge": 0}
    assert settle(datetime(2026, 6, 3, 2, tzinfo=UTC))["billed"] == 0
    assert settle(datetime(2026, 6, 4, 2, tzinfo=UTC)) == {"billed": 0, "skipped": 0, "no_charge": 0}
    bills = list(BillModel.scan())
    assert len(bills) == 6 and {int(b.total) for b in bills} == {3518}
    assert {a.account_id: int(a.cash) for a in AccountModel.scan()}["acct00000"] == 10_000 - 3518


def test_crash_after_k_accounts_then_rerun_equals_a_clean_run(store, monkeypatch):
    seed(8)
    real = billing.settle_account
    calls = []

    def crashing(ctx, month, account_id, usage):
        if len(calls) == 3:
            raise Killed("injected kill after 3 accounts")
        calls.append(account_id)
        return real(ctx, month, account_id, usage)

    monkeypatch.setattr(billing, "settle_account", crashing)
    with pytest.raises(Killed):
        settle()
    monkeypatch.setattr(billing, "settle_account", real)
    assert settle() == {"billed": 5, "skipped": 3, "no_charge": 0}
    crashed = state()
    for model in (BillModel, LedgerModel, NotificationModel):
        with model.batch_write() as batch:
            for item in model.scan():
                batch.delete(item)
    for a in AccountModel.scan():
        a.cash, a.ledger_seq, a.version = 10_000, 0, 0
        a.save()
    assert settle()["billed"] == 8
    assert state() == crashed


def test_settlement_cost_per_billed_account(store):
    seed(40, idle=200)
    with count_requests() as counter:
        summary = settle()
    assert summary["billed"] == 40
    assert "Scan" not in counter.calls
    per_account = counter.total / 40
    print(f"settlement: {counter.total} requests for 40 billed accounts (200 idle): "
          f"{per_account:.2f}/account {dict(counter.calls)}")
    # per billed account: Query apps, BatchGetItem of the month items (strong, after the close),
    # GetItem account, TransactWriteItems, BatchWriteItem; per run: 4 Queries, the month's close and
    # the run's job-run item (the operators' job run history)
    assert counter.total <= 5 * 40 + 6


def test_later_days_of_the_window_pass_settled_accounts_without_reading_each(store, monkeypatch):
    """Days 2 and 3 settle what day 1 left (an account that failed) and pass the accounts day 1
    decided (billed: "skipped", nothing to bill: "no_charge") for one BatchGetItem per 100 accounts,
    not ~5 requests each."""
    seed(40)
    with UsageModel.batch_write() as use:  # 10 accounts whose usage is inside the free allowance
        for i in range(40, 50):
            account_id, sid = f"acct{i:05d}", 1_600_000_000 + i
            AccountModel(account_id, email="q@x.test", phone="+1555", created_at=RUN, due_shard=due_shard(account_id),
                         cash=0).save()
            use.save(UsageModel(sid, MONTH, account_id=account_id, month_shard=f"{MONTH}#{due_shard(account_id)}",
                                account_app=f"{account_id}#{sid}", mau=5))
    real = billing.settle_account

    def failing_once(ctx, month, account_id, usage):
        if account_id == "acct00007" and ctx.now == RUN:
            raise RuntimeError("injected failure on day 1")
        return real(ctx, month, account_id, usage)

    monkeypatch.setattr(billing, "settle_account", failing_once)
    day1 = runner.run_job("monthly-settlement", RUN, contexts(UTC_TZ))
    assert (day1["summary"], day1.get("failed")) == ({"billed": 39, "skipped": 0, "no_charge": 10}, 1)
    with count_requests() as counter:
        assert settle(datetime(2026, 6, 2, 2, tzinfo=UTC)) == {"billed": 1, "skipped": 39, "no_charge": 10}
    # 4 index Queries, one BatchGetItem per shard (<= 100 accounts), the close, the job-run item,
    # and the one account left: ~5 requests
    assert counter.total <= 4 + 4 + 2 + 6, dict(counter.calls)
    with count_requests() as counter:
        assert settle(datetime(2026, 6, 3, 2, tzinfo=UTC)) == {"billed": 0, "skipped": 40, "no_charge": 10}
    assert counter.total <= 4 + 4 + 2 and counter.calls["TransactWriteItems"] == 0, dict(counter.calls)
    assert len(list(BillModel.scan())) == 40


def test_due_work_lists_the_accounts_the_next_run_settles(store, monkeypatch):
    """Before day 1 every account with usage in the month; before day 2 only the one day 1 left."""
    from chalicelib.jobs.due import due
    from tests.composed import make_ctx

    seed(3, idle=1)

    def listed(now: datetime) -> list[str]:
        return sorted(i["account_id"] for i in due("monthly-settlement", make_ctx(now, UTC_TZ), now + timedelta(days=1),
                                                   100))

    assert listed(RUN - timedelta(hours=1)) == ["acct00000", "acct00001", "acct00002"]
    real = billing.settle_account

    def failing(ctx, month, account_id, usage):
        if account_id == "acct00001":
            raise RuntimeError("injected failure")
        return real(ctx, month, account_id, usage)

    monkeypatch.setattr(billing, "settle_account", failing)
    assert settle() == {"billed": 2, "skipped": 0, "no_charge": 0}
    assert listed(RUN + timedelta(hours=1)) == ["acct00001"]


@pytest.mark.parametrize("billing_tz", ["Asia/Shanghai"])
def test_shanghai_month_boundary_usage_of_june_is_not_settled_with_may(store, billing_tz):
    seed(1, month="2026-06")  # e.g. a login at 2026-05-31T17:00Z belongs to June in Shanghai
    tz = ZoneInfo(billing_tz)
    # 2026-06-01T02:00Z is June 1, 10:00 in Shanghai: settles May, which has no usage here
    assert runner.run_job("monthly-settlement", RUN, contexts(tz))["summary"]["billed"] == 0
    # 2026-07-01T02:00Z settles June
    assert runner.run_job("monthly-settlement", datetime(2026, 7, 1, 2, tzinfo=UTC),
                          contexts(tz))["summary"]["billed"] == 1
    (bill,) = BillModel.scan()
    assert bill.period == "2026-06"
