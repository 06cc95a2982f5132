"""Fan-out of job runs on SQS (chalicelib/jobs/fanout.py): the same results inline and fanned out,
whatever the delivery order and however often a message comes; the line between the two; partial
batch failures; growing the number of shards (moto SQS; DynamoDB Local has no SQS: moto only)."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib import config
from chalicelib.jobs import fanout
from chalicelib.readmodels import job_runs
from chalicelib.services import billing
from chalicelib.store.dynamodb.models import AccountModel, AppModel, LedgerModel, NotificationModel, due_shard
from chalicelib.store.dynamodb.usage_models import BillModel, UsageModel
from tests.composed import contexts
from tests.integration.test_settlement import RUN, seed

UTC_TZ = ZoneInfo("UTC")
JOB = "monthly-settlement"
ACCOUNTS = 23  # over 4 shards with pages of 3: several pages per shard, so cursors are followed


@pytest.fixture
def queue(store: None, ddb_endpoint: str | None, monkeypatch: pytest.MonkeyPatch) -> Any:
    if ddb_endpoint is not None:
        pytest.skip("SQS is moto's")
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=config.jobs_queue_name("local"))["QueueUrl"]
    for name, value in {"IMBILL_JOBS_QUEUE_URL": url, "IMBILL_JOBS_PAGE": "3", "IMBILL_JOBS_INLINE_MAX": "2",
                        "IMBILL_TEST_CLOCK": "0"}.items():
        monkeypatch.setenv(name, value)
    config.reset_settings()
    yield sqs, url
    monkeypatch.undo()
    config.reset_settings()


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now in the queue, as Lambda's records, deleted from the queue."""
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append({"messageId": m["MessageId"], "body": m["Body"], "receiptHandle": m["ReceiptHandle"]})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def drain(sqs: Any, url: str, *, twice: bool = False, shuffle: bool = False) -> int:
    """Work the queue until it is empty, in batches of up to 10 as Lambda would; `twice` delivers
    every message a second time, `shuffle` in random order. Answers how many messages came."""
    rng = random.Random(11)
    seen = 0
    while records := received(sqs, url):
        seen += len(records)
        deliveries = records * 2 if twice else records
        if shuffle:
            rng.shuffle(deliveries)
        for i in range(0, len(deliveries), 10):
            assert fanout.handle_batch(deliveries[i:i + 10], contexts(UTC_TZ)) == {"batchItemFailures": []}
    return seen


def outcome() -> dict[str, list[tuple[Any, ...]]]:
    """Everything a settlement writes, item by item."""
    return {
        "bills": sorted((b.account_id, b.bill_key, int(b.total), b.posted_at, json.dumps(b.attribute_values,
                                                                                           default=str, sort_keys=True))
                        for b in BillModel.scan()),
        "ledger": sorted((e.account_id, int(e.seq), int(e.cash), int(e.gift), e.kind, e.ref, e.at)
                         for e in LedgerModel.scan()),
        "accounts": sorted((a.account_id, int(a.cash), int(a.gift), a.status, a.arrears_due_at, int(a.version))
                           for a in AccountModel.scan()),
        "notifications": sorted((n.account_id, n.notification_id, n.kind, n.status) for n in NotificationModel.scan()),
        "usage": sorted((int(u.sdkappid), u.period) for u in UsageModel.scan()),
    }


def seed_mixed() -> None:
    """ACCOUNTS billed accounts (a few too poor to pay: arrears and its notices), 4 without usage."""
    seed(ACCOUNTS, idle=4)
    for account_id in ("acct00003", "acct00011", "acct00017"):
        AccountModel(account_id).update(actions=[AccountModel.cash.set(1000)])


def moto_tables() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][config.settings().region]


def test_settlement_inline_and_fanned_out_write_the_same_items(queue):
    sqs, url = queue
    seed_mixed()
    backend = moto_tables()
    seeded = copy.deepcopy(backend.tables)

    inline = fanout.runner.run_job(JOB, RUN, contexts(UTC_TZ))
    assert inline["summary"]["billed"] == ACCOUNTS and received(sqs, url) == []
    expected = outcome()

    backend.tables = seeded
    planned = fanout.plan(JOB, RUN, contexts(UTC_TZ))
    assert planned == {"job": JOB, "at": "2026-06-01T02:00:00Z", "fanned_out": 4}
    assert BillModel.count() == 0  # the planner only planned
    messages = drain(sqs, url)
    assert messages > 4  # the shards' first pages, and the later pages they sent
    got = outcome()
    for kind in expected:
        assert got[kind] == expected[kind], kind
    assert len(got["bills"]) == ACCOUNTS and any(n[2] == "arrears" for n in got["notifications"])


def test_every_message_twice_and_out_of_order_still_one_bill_per_account(queue):
    sqs, url = queue
    seed_mixed()
    fanout.plan(JOB, RUN, contexts(UTC_TZ))
    drain(sqs, url, twice=True, shuffle=True)
    bills = [(b.account_id, b.bill_key) for b in BillModel.scan()]
    assert len(bills) == len(set(bills)) == ACCOUNTS
    ledger = [(e.account_id, e.ref) for e in LedgerModel.scan() if e.kind == "bill"]
    assert len(ledger) == len(set(ledger)) == ACCOUNTS
    paid = {a.account_id: int(a.cash) for a in AccountModel.scan()}
    assert paid["acct00000"] == 10_000 - 3518 and paid["acct00003"] == 1000 - 3518


def recorded() -> list[tuple[str, str, dict[str, int], int]]:
    """The job-runs view as GET /v1/ops/job-runs lists it (newest first)."""
    return [(r["job"], r["at"], r["summary"], r["failed"]) for r in job_runs.runs([JOB], 20)]


def test_a_fanned_out_run_is_recorded_once_with_the_inline_counts(queue, api):
    """The planner writes the run's row; each page adds its counts once, however often and in
    whatever order its message comes: the row ends as the inline run's."""
    sqs, url = queue
    seed_mixed()
    backend = moto_tables()
    seeded = copy.deepcopy(backend.tables)
    fanout.runner.run_job(JOB, RUN, contexts(UTC_TZ))
    inline = recorded()
    assert inline == [(JOB, "2026-06-01T02:00:00Z", {"billed": ACCOUNTS, "skipped": 0, "no_charge": 0}, 0)]

    backend.tables = seeded
    fanout.plan(JOB, RUN, contexts(UTC_TZ))
    assert recorded() == [(JOB, "2026-06-01T02:00:00Z", {"billed": 0, "skipped": 0, "no_charge": 0}, 0)]
    drain(sqs, url, twice=True, shuffle=True)
    assert recorded() == inline
    listed = api.ok("GET", "/v1/ops/job-runs")["items"]
    assert [(r["job"], r["at"], r["summary"], r["failed"]) for r in listed] == inline


def test_a_run_below_the_line_or_without_a_queue_stays_inline(queue, monkeypatch):
    sqs, url = queue
    seed(2)  # IMBILL_JOBS_INLINE_MAX = 2
    result = fanout.plan(JOB, RUN, contexts(UTC_TZ))
    assert result["summary"]["billed"] == 2 and received(sqs, url) == []

    seed(5)  # 3 more, over the line; under the test clock every run is inline
    monkeypatch.setenv("IMBILL_TEST_CLOCK", "1")
    config.reset_settings()
    result = fanout.plan(JOB, RUN, contexts(UTC_TZ))
    assert result["summary"] == {"billed": 3, "skipped": 2, "no_charge": 0} and received(sqs, url) == []

    seed(8)  # 3 more; without a queue configured every run is inline
    monkeypatch.setenv("IMBILL_TEST_CLOCK", "0")
    monkeypatch.delenv("IMBILL_JOBS_QUEUE_URL")
    config.reset_settings()
    result = fanout.plan(JOB, RUN, contexts(UTC_TZ))
    assert result["summary"] == {"billed": 3, "skipped": 5, "no_charge": 0} and received(sqs, url) == []


def test_a_job_without_due_items_or_not_due_today_sends_nothing(queue):
    sqs, url = queue
    seed(5)
    assert fanout.plan(JOB, datetime(2026, 6, 4, 2, tzinfo=UTC), contexts(UTC_TZ))["summary"]["billed"] == 0  # day 4
    assert fanout.plan("expiry-enforcement", RUN, contexts(UTC_TZ))["summary"]["stopped"] == 0
    assert received(sqs, url) == []


def test_a_message_with_failed_items_or_an_error_is_reported_for_redelivery(queue, monkeypatch):
    sqs, url = queue
    seed(5)
    real = billing.settle_account

    def failing(ctx: Any, month: str, account_id: str, usage: Any) -> str:
        if account_id == "acct00002":
            raise RuntimeError("injected")
        return real(ctx, month, account_id, usage)

    monkeypatch.setattr(billing, "settle_account", failing)
    fanout.plan(JOB, RUN, contexts(UTC_TZ))
    records = received(sqs, url)
    broken = {"messageId": "broken", "body": json.dumps({"job": "no-such-job", "at": "x", "shard": 0}),
              "receiptHandle": "-"}
    answer = fanout.handle_batch([*records, broken], contexts(UTC_TZ))
    failing_shard = int(AccountModel.get("acct00002").due_shard)
    expected = [r["messageId"] for r in records if json.loads(r["body"])["shard"] == failing_shard] + ["broken"]
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == expected
    assert BillModel.count() == 4  # the other accounts were billed; the failed one stays due
    assert recorded() == [(JOB, "2026-06-01T02:00:00Z", {"billed": 4, "skipped": 0, "no_charge": 0}, 1)]

    monkeypatch.setattr(billing, "settle_account", real)  # the redelivery settles it, once
    again = [r for r in records if r["messageId"] in expected]
    assert fanout.handle_batch(again, contexts(UTC_TZ)) == {"batchItemFailures": []}
    assert sorted(b.account_id for b in BillModel.scan()) == [f"acct{i:05d}" for i in range(5)]
    # the failed item moved to billed; the page's items billed the first time are not counted again
    assert recorded() == [(JOB, "2026-06-01T02:00:00Z", {"billed": 5, "skipped": 0, "no_charge": 0}, 0)]


def test_growing_the_shards_loses_and_repeats_no_item(queue, monkeypatch):
    sqs, url = queue
    seed(20)  # written with 4 shards
    monkeypatch.setenv("IMBILL_DUE_SHARDS", "8")
    config.reset_settings()
    for u in UsageModel.scan():  # the usage of the last 8 accounts written again, now with 8 shards
        if u.account_id >= "acct00012":
            u.update(actions=[UsageModel.month_shard.set(f"{u.period}#{due_shard(u.account_id)}")])
    shards = {u.account_id: int(u.month_shard.split("#")[1]) for u in UsageModel.scan()}
    assert max(shards.values()) >= 4 and len(set(shards.values())) > 4
    assert fanout.plan(JOB, RUN, contexts(UTC_TZ))["fanned_out"] == 8  # every shard 0..max(4, 8)-1
    drain(sqs, url, twice=True)
    assert sorted(b.account_id for b in BillModel.scan()) == [f"acct{i:05d}" for i in range(20)]
    assert AppModel.count() == 20
