"""Read views maintained from DynamoDB Streams (moto's), and the operator endpoints over them."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chalicelib.local.poller import StreamPoller
from chalicelib.readmodels.streams import apply_records
from chalicelib.store.dynamodb.models import LedgerModel
from tests.composed import contexts

pytestmark = [pytest.mark.storage, pytest.mark.fresh_tables]  # also on DynamoDB Local: its streams feed the handler


@pytest.fixture
def feed(api):
    poller = StreamPoller(contexts(ZoneInfo("UTC")))
    return poller.poll_once


def _revenue(api, first="2026-03", last="2026-04"):
    return {m["month"]: m for m in api.ok("GET", f"/v1/ops/revenue?from={first}&to={last}")["items"]}


def test_a_prefix_search_pages_each_account_once(api, feed):
    """An account whose id and e-mail both start with the prefix is in both partitions the search
    walks (ids, then e-mails): it is listed once over all pages, however small they are."""
    api.clock("2026-03-01T00:00:00Z")
    for name in ("alpha", "alpine", "beta"):
        api.account(name)
    api.ok("POST", "/v1/accounts", {"account_id": "zed", "email": "alps@x.test", "phone": "+15550100"})
    feed()
    for limit in (1, 2, 3, 10):
        listed, token = [], ""
        while token is not None:
            page = api.ok("GET", f"/v1/accounts?q=alp&limit={limit}" + (f"&next_token={token}" if token else ""))
            listed += [a["account_id"] for a in page["items"]]
            token = page["next_token"]
        assert listed == ["alpha", "alpine", "zed"], limit


def test_revenue_by_month_counts_each_ledger_entry_once(api, feed):
    sid = api.paid_app("2026-03-01T00:00:00Z", cash="2000.00", edition="standard")
    api.ok("POST", f"/v1/apps/{sid}/purchases", {"edition": "pro", "months": 1})  # upgrade: a credit
    assert _revenue(api)["2026-03"]["prepaid_sales"] == "0.00"  # nothing fed yet: the view lags
    assert feed() > 0
    march = _revenue(api)["2026-03"]
    assert Decimal(march["prepaid_sales"]) > 0 and Decimal(march["credits"]) > 0
    assert Decimal(march["net"]) == Decimal(march["prepaid_sales"]) - Decimal(march["credits"])
    assert _revenue(api)["2026-04"] == {"month": "2026-04", "prepaid_sales": "0.00", "refunds": "0.00",
                                       "credits": "0.00", "postpaid_bills": "0.00", "net": "0.00"}
    # every record delivered again (a fresh poller starts at the stream's horizon): nothing changes
    again = StreamPoller(contexts(ZoneInfo("UTC")))
    assert again.poll_once() > 0
    assert _revenue(api)["2026-03"] == march
    # and the same batch twice through the handler
    ledger_sum = sum(-Decimal(e["cash"]) - Decimal(e["gift"])
                     for e in api.ok("GET", "/v1/accounts/acme/ledger")["items"] if e["kind"] == "purchase")
    assert Decimal(march["prepaid_sales"]) == ledger_sum


def test_refund_counts_in_its_month(api, feed):
    sid = api.paid_app("2026-03-01T00:00:00Z", cash="2000.00", edition="standard", months=3)
    api.clock("2026-04-10T00:00:00Z")
    refund = api.ok("POST", f"/v1/apps/{sid}/refunds", {})["refund"]
    feed()
    rev = _revenue(api)
    assert rev["2026-04"]["refunds"] == refund["total"]
    assert rev["2026-04"]["net"] == f"-{refund['total']}"


def test_handler_applies_a_redelivered_record_once(api):
    api.paid_app("2026-03-01T00:00:00Z", cash="1000.00")
    poller = StreamPoller(contexts(ZoneInfo("UTC")))
    arn = poller.ddb.describe_table(TableName=LedgerModel.Meta.table_name)["Table"]["LatestStreamArn"]
    shard = poller.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = poller.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = poller.streams.get_records(ShardIterator=it["ShardIterator"])["Records"]
    for r in records:
        r["eventSourceARN"] = arn
        r["dynamodb"].pop("ApproximateCreationDateTime", None)
    apply_records(records, ZoneInfo("UTC"))
    once = _revenue(api)["2026-03"]
    apply_records(records + records, ZoneInfo("UTC"))
    assert _revenue(api)["2026-03"] == once and once["prepaid_sales"] != "0.00"


def test_accounts_by_status_and_prefix(api, feed):
    api.clock("2026-03-01T00:00:00Z")
    for name in ("alpha", "alpine", "beta"):
        api.account(name)
    feed()
    ids = lambda r: [a["account_id"] for a in r["items"]]  # noqa: E731
    assert ids(api.ok("GET", "/v1/accounts?q=alp")) == ["alpha", "alpine"]
    assert ids(api.ok("GET", "/v1/accounts?q=beta%40x")) == ["beta"]  # e-mail prefix
    assert ids(api.ok("GET", "/v1/accounts?status=arrears")) == []
    page1 = api.ok("GET", "/v1/accounts?status=active&limit=2")
    assert ids(page1) == ["alpha", "alpine"] and page1["next_token"]
    page2 = api.ok("GET", f"/v1/accounts?status=active&limit=2&next_token={page1['next_token']}")
    assert ids(page2) == ["beta"]
    assert api.call("GET", "/v1/accounts?status=gone").status == 400
    r = api.call("GET", "/v1/accounts", role="customer", account="alpha")
    assert r.status == 403


def test_accounts_in_arrears_follow_the_account(api, feed):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    feed()
    from chalicelib.store.dynamodb.models import AccountModel

    acct = AccountModel.get("acme")
    acct.update(actions=[AccountModel.status.set("arrears")])
    feed()
    assert [a["account_id"] for a in api.ok("GET", "/v1/accounts?status=arrears")["items"]] == ["acme"]
    assert api.ok("GET", "/v1/accounts?status=active")["items"] == []
    acct.update(actions=[AccountModel.status.set("active")])
    feed()
    assert api.ok("GET", "/v1/accounts?status=arrears")["items"] == []


def test_job_runs_are_recorded_newest_first(api):
    api.clock("2026-03-05T00:00:00Z")
    api.ok("POST", "/v1/jobs/expiry-warnings/runs", {"at": "2026-03-02T01:00:00Z"}, expect=200)
    api.ok("POST", "/v1/jobs/reclamation/runs", {"at": "2026-03-03T03:00:00Z"}, expect=200)
    runs = api.ok("GET", "/v1/ops/job-runs")["items"]
    assert [(r["job"], r["at"]) for r in runs] == [("reclamation", "2026-03-03T03:00:00Z"),
                                                   ("expiry-warnings", "2026-03-02T01:00:00Z")]
    assert runs[0]["failed"] == 0 and "reclaimed" in runs[0]["summary"]
    assert [r["job"] for r in api.ok("GET", "/v1/ops/job-runs?job=expiry-warnings")["items"]] == ["expiry-warnings"]
    assert api.call("GET", "/v1/ops/job-runs?job=nope").status == 400


def test_due_work_lists_what_jobs_will_act_on(api):
    sid = api.paid_app("2026-03-01T00:00:00Z", cash="1000.00")
    items = api.ok("GET", "/v1/ops/due?job=expiry-enforcement&before=2026-04-02T00:00:00Z")["items"]
    assert [(i["sdkappid"], i["job"]) for i in items] == [(sid, "expiry-enforcement")]
    assert api.ok("GET", "/v1/ops/due?job=expiry-enforcement&before=2026-03-02T00:00:00Z")["items"] == []
    warn = api.ok("GET", "/v1/ops/due?before=2026-04-01T00:00:00Z")["items"]
    assert any(i["job"] == "expiry-warnings" and i["sdkappid"] == sid for i in warn)
    assert api.call("GET", "/v1/ops/due?job=nope").status == 400
    bad_instant = api.call("GET", "/v1/ops/due?before=yesterday")  # was a 500 (found by schemathesis)
    assert (bad_instant.status, bad_instant.code) == (400, "invalid_request")


def test_failed_notifications_are_listed(api, feed):
    from datetime import UTC, datetime

    from chalicelib.store.dynamodb.models import NotificationModel

    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    at = datetime(2026, 3, 1, tzinfo=UTC)
    n = NotificationModel("acme", "2026-03-01T00:00:00Z#bill#x#email", at=at, kind="bill", channel="email",
                          to="acme@x.test", subject="s", body="<b>", status="pending", attempts=1)
    n.save()
    feed()
    assert [x["notification_id"] for x in api.ok("GET", "/v1/ops/notifications?status=pending")["items"]] == [
        n.notification_id]
    assert api.ok("GET", "/v1/ops/notifications?status=failed")["items"] == []
    n.update(actions=[NotificationModel.status.set("failed"), NotificationModel.last_error.set("bounced")])
    feed()
    failed = api.ok("GET", "/v1/ops/notifications?status=failed")["items"]
    assert [(x["account_id"], x["status"], x["last_error"]) for x in failed] == [("acme", "failed", "bounced")]
    assert api.ok("GET", "/v1/ops/notifications?status=pending")["items"] == []


def test_test_clock_moves_record_the_runs_that_acted(api):
    sid = api.paid_app("2026-03-01T00:00:00Z", cash="1000.00")
    moved = api.ok("PUT", "/v1/test/clock", {"now": "2026-03-27T00:00:00Z"}, expect=200)["jobs_run"]
    acted = [(r["job"], r["at"]) for r in moved if r["summary"].get("warned")]
    assert acted  # the E-6 warning of the app
    runs = api.ok("GET", "/v1/ops/job-runs?limit=1000")["items"]
    assert [(r["job"], r["at"]) for r in runs if r["job"] == "expiry-warnings"] == acted[::-1]
    assert not [r for r in runs if r["job"] == "arrears-enforcement"]  # idle runs are not recorded
    assert sid
