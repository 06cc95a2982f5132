"""Issue 21: the jobs, the read views and a monthly bill at their floor, asserted as request counts
and write units (never times). scripts/bench.py --floor prints the same figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib import bootstrap
from chalicelib.jobs import runner
from chalicelib.notify import LocalNotifier
from chalicelib.services.apps import refresh_dues
from chalicelib.store.dynamodb.models import AccountModel, AppModel, QuotaChangeMap, due_shard
from tests.composed import contexts, make_ctx
from tests.integration import test_settlement
from tests.integration.capacity import count_write_units
from tests.integration.requests import count_requests

pytestmark = pytest.mark.storage
UTC_TZ = ZoneInfo("UTC")
E = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
PUSH_DAY = datetime(2026, 6, 1, tzinfo=UTC)
BASE = 1_800_000_000

SETTLEMENT_PER_ACCOUNT = 2.0
PUSH_BILL_PER_ACCOUNT = 1.5
WARNING_PER_APP = 1.5
# 10 for the bill, ledger entry, account and notices, + 4 for the change's event (issue 19: one item of about
# 0.5 KB in the same transaction, 2 units, and its by_account and by_day index entries, 1 each)
WRITE_UNITS_PER_MONTHLY_BILL = 14
YEAR_MOVE_REQUESTS = 1_000
YEAR_POLLER_REQUESTS = 1_000


def seed_accounts(n: int, **app: object) -> list[int]:
    """n accounts, one app each (the apps listed on their accounts, as create_app writes them)."""
    ctx = make_ctx(now=E - timedelta(days=40), tz=UTC_TZ)
    sids = []
    with AccountModel.batch_write() as accounts, AppModel.batch_write() as apps:
        for i in range(n):
            account_id, sid = f"floor{i:04d}", BASE + i
            listed = {"app_ids": {sid}} if hasattr(AccountModel, "app_ids") else {}  # (bench.py before it existed)
            accounts.save(AccountModel(account_id, email=f"{account_id}@x.test", phone="+1555", created_at=ctx.now,
                                       due_shard=due_shard(account_id), cash=500_000, apps_count=1, **listed))
            item = AppModel(sid, account_id=account_id, name=f"a{i}", region="us", edition="standard",
                            status="enabled", created_at=ctx.now, due_shard=due_shard(sid), had_paid=True,
                            **{"expires_at": E, **app})
            refresh_dues(ctx, item)
            apps.save(item)
            sids.append(sid)
    return sids


def per_item(job: str, at: datetime, outcome: str, n: int) -> tuple[float, dict[str, int]]:
    with count_requests() as counter:
        summary = runner.run_job(job, at, contexts(UTC_TZ))["summary"]
    assert summary[outcome] == n, summary
    return counter.total / n, dict(counter.calls)


def test_the_settlement_costs_at_most_2_requests_per_billed_account(store):
    test_settlement.seed(60, idle=20)
    cost, calls = per_item("monthly-settlement", test_settlement.RUN, "billed", 60)
    print(f"settlement: {cost:.2f} requests per billed account {calls}")
    # one TransactWriteItems per account; per page of 100 accounts a BatchGetItem of the accounts,
    # of their month items and of their apps; the delivery marks (25 a request); per run 4 shard
    # listings, the month's close and the run's record
    assert calls["TransactWriteItems"] == 60 and "GetItem" not in calls and calls["Query"] == 4, calls
    assert cost <= SETTLEMENT_PER_ACCOUNT


def test_an_account_older_than_its_app_list_is_settled_the_same_and_then_lists_its_apps(store):
    test_settlement.seed(3, legacy=True)
    with count_requests() as counter:
        assert runner.run_job("monthly-settlement", test_settlement.RUN, contexts(UTC_TZ))["summary"]["billed"] == 3
    assert counter.calls["Query"] == 4 + 3  # its apps through by_account, once
    assert {a.account_id: set(a.app_ids) for a in AccountModel.scan()} == {
        f"acct{i:05d}": {1_600_000_000 + i} for i in range(3)}


def test_the_daily_push_bill_costs_at_most_1_5_requests_per_account(store):
    seed_accounts(30, expires_at=E + timedelta(days=365), push_billing_shard="0",
                  legacy_push_until=PUSH_DAY + timedelta(days=30),
                  push_quota_log=[QuotaChangeMap(at=PUSH_DAY - timedelta(days=1), quota=300)])
    for app in AppModel.scan():
        app.update(actions=[AppModel.push_billing_shard.set(due_shard(int(app.sdkappid)))])
    cost, calls = per_item("push-quota-billing", PUSH_DAY + timedelta(days=1, minutes=30), "billed", 30)
    print(f"push bill: {cost:.2f} requests per account {calls}")
    # the day's close rides in the first bill's transaction: no UpdateItem of its own
    assert calls["TransactWriteItems"] == 30 and "UpdateItem" not in calls and "GetItem" not in calls, calls
    assert cost <= PUSH_BILL_PER_ACCOUNT


def test_the_expiry_warning_costs_at_most_1_5_requests_per_app(store):
    seed_accounts(40)
    cost, calls = per_item("expiry-warnings", datetime(2026, 8, 18, 1, 0, tzinfo=UTC), "warned", 40)
    print(f"expiry warning: {cost:.2f} requests per app {calls}")
    assert calls["TransactWriteItems"] == 40 and "GetItem" not in calls, calls
    assert cost <= WARNING_PER_APP


def test_a_monthly_bill_costs_at_most_10_write_units_from_its_real_item_sizes(store):
    """Bill, ledger entry, account, the two notices (written `sent` by a records-only notifier) and the
    bill's event in one transaction: 2 units per KB each, no index entry but the event's, no later mark."""
    bootstrap.use(bootstrap.compose(notifier=LocalNotifier()))
    test_settlement.seed(1)
    with count_write_units() as wcu:
        assert runner.run_job("monthly-settlement", test_settlement.RUN, contexts(UTC_TZ))["summary"]["billed"] == 1
    bill_units = {t: u for t, u in wcu.by_table.items() if "job" not in t and not t.endswith("views")}
    print(f"write units of one monthly bill: {dict(wcu.by_table)}; item sizes {wcu.sizes}")
    assert sum(u for t, u in bill_units.items() if not t.endswith("meta")) <= WRITE_UNITS_PER_MONTHLY_BILL


def drain_poller(tz: ZoneInfo) -> tuple[int, dict[str, int]]:
    from chalicelib import config
    from chalicelib.local.poller import StreamPoller

    poller = StreamPoller(contexts(tz), config.settings().dynamodb_endpoint)
    with count_requests() as counter:
        while poller.poll_once():
            pass
    return counter.total, dict(counter.calls)


@pytest.mark.heavy
@pytest.mark.ddblocal  # a year of the test clock, and DynamoDB Local's streams
@pytest.mark.fresh_tables  # reads the streams from their horizon
def test_a_year_moves_and_feeds_the_views_in_at_most_1000_requests_each(api):
    from tests.scenarios.year_data import END, seed_year

    seed_year(api)
    drain_poller(UTC_TZ)  # the seed's records
    with count_requests() as counter:
        moved = api.ok("PUT", "/v1/test/clock", {"now": END})
    assert sum(r["job"] == "push-quota-billing" for r in moved["jobs_run"]) == 365
    poller_total, poller_calls = drain_poller(UTC_TZ)
    print(f"year: move {counter.total} {dict(counter.calls)}; poller {poller_total} {poller_calls}")
    assert counter.total <= YEAR_MOVE_REQUESTS, dict(counter.calls)
    assert poller_total <= YEAR_POLLER_REQUESTS, poller_calls
    revenue = api.ok("GET", "/v1/ops/revenue?from=2026-01&to=2026-12")
    assert revenue["items"], revenue  # the views were fed


def test_the_idempotency_record_of_a_purchase_is_under_1_kb_and_older_records_still_replay(store):
    import json

    from chalicelib.api.accounts import account_created, topped_up
    from chalicelib.api.apps import app_created, bought
    from chalicelib.services import accounts, apps, idempotency, purchases
    from chalicelib.services.idempotency import Idem
    from chalicelib.store.dynamodb.models import IdempotencyModel
    from tests.integration.capacity import item_size

    ctx = make_ctx(now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tz=UTC_TZ)
    accounts.create_account(ctx, "acme", "acme@x.test", "+15550100", idempotency.NONE, account_created)
    accounts.topup(ctx, "acme", 100_000, "cash", idempotency.NONE, topped_up)
    sid = int(apps.create_app(ctx, "acme", "a", "us", idempotency.NONE, app_created)[1]["sdkappid"])
    idem = Idem.of("k" * 36, f"operator#/v1/apps/{sid}/purchases", {"edition": "standard"})
    first = purchases.purchase(ctx, sid, "standard", 1, None, None, idem, bought)
    (record,) = IdempotencyModel.scan()
    assert len(json.dumps(first[1])) > 800  # the answer itself is not small
    assert item_size(record.serialize()) < 1024
    assert purchases.purchase(ctx, sid, "standard", 1, None, None, idem, bought) == first
    # a record written before the answers were compressed
    record.body_z, record.body = None, json.dumps(first[1])
    record.save()
    assert purchases.purchase(ctx, sid, "standard", 1, None, None, idem, bought) == first
