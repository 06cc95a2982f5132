"""A billed period is closed (billing-rules section 6; api-contract Usage: 409 `period_closed`).

Once the settlement of month M has run, usage of M (logins, push messages, search) is refused;
once the daily push bill of day D has run, push calls of D are refused. Nothing accepted is left
unbilled and no posted bill changes, also when late reports race the settlement.

Marked `storage`: runs on moto in-process and again on DynamoDB Local."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.api.http import status_of
from chalicelib.domain.calendar import month_bounds
from chalicelib.domain.errors import Conflict
from chalicelib.jobs import runner
from chalicelib.services import billing, usage
from chalicelib.services.context import Ctx
from chalicelib.store.dynamodb.models import AppModel, due_shard
from chalicelib.store.dynamodb.usage_models import BillModel, UsageModel
from tests.composed import contexts, make_ctx
from tests.integration.requests import count_requests
from tests.integration.test_concurrency import atomic_moto_requests, run_together  # noqa: F401 (autouse fixture)
from tests.integration.test_usage_ingestion import make_app, set_push

pytestmark = [pytest.mark.storage, pytest.mark.usefixtures("store")]

MONTH = "2026-05"
ZONES = ["UTC", "Asia/Shanghai"]


def ctx_at(now: datetime, tz: str) -> Ctx:
    return make_ctx(now=now, tz=ZoneInfo(tz))


def last_second(month: str, tz: str) -> datetime:
    return month_bounds(month, ZoneInfo(tz))[1] - timedelta(seconds=1)


def settle(at: datetime, tz: str) -> dict[str, int]:
    return runner.run_job("monthly-settlement", at, contexts(ZoneInfo(tz)))["summary"]


def bills(account_id: str) -> list[tuple[str, int, list[tuple[str, int]]]]:
    return [(b.bill_key, int(b.total), [(x.item, int(x.quantity)) for x in b.lines])
            for b in BillModel.query(account_id, consistent_read=True)]


def closed(report: Any) -> Conflict:
    with pytest.raises(Conflict) as refused:
        report()
    assert refused.value.code == "period_closed" and status_of(refused.value) == 409
    return refused.value


# ------------------------------------------------------------------ around the settlement instant
@pytest.mark.parametrize("billing_tz", ZONES)
def test_usage_of_the_last_second_is_billed_when_reported_before_the_settlement_and_refused_after(store,
                                                                                                   billing_tz):
    end = month_bounds(MONTH, ZoneInfo(billing_tz))[1]
    run = datetime(2026, 6, 1, 2, tzinfo=UTC)  # the first settlement run (local June 1 in both zones)
    assert end < run
    before = ctx_at(run - timedelta(minutes=1), billing_tz)
    sid = make_app(ctx=before)
    at = last_second(MONTH, billing_tz)
    assert usage.report_search(before, sid, 0, 310_000, at) == {"month": MONTH, "stored_messages": 0,
                                                                 "requests": 310_000}

    assert settle(run, billing_tz)["billed"] == 1
    billed = bills("acme")
    assert billed == [(f"{MONTH}#monthly", 400, [("search_request_overage", 1)])]

    after = ctx_at(run + timedelta(seconds=1), billing_tz)
    view = usage.get_usage(after, sid, MONTH)
    message = closed(lambda: usage.report_search(after, sid, 0, 10_000, at)).message
    assert MONTH in message and "billed" in message
    closed(lambda: usage.report_logins(after, sid, ["late-user"], at))
    closed(lambda: usage.report_push(after, sid, 0, 5, at))
    closed(lambda: usage.report_search(after, sid, 1, 0, at - timedelta(days=20)))  # any instant of M
    assert usage.get_usage(after, sid, MONTH) == view
    assert usage.mau_of(after, sid, MONTH) == 0
    # the reruns of days 2 and 3 change nothing; the bill stays as posted
    assert settle(run + timedelta(days=1), billing_tz) == {"billed": 0, "skipped": 1, "no_charge": 0}
    assert settle(run + timedelta(days=2), billing_tz) == {"billed": 0, "skipped": 1, "no_charge": 0}
    assert bills("acme") == billed
    # the next month is open: its first second is accepted
    june = usage.report_search(after, sid, 0, 7, end)
    assert june == {"month": "2026-06", "stored_messages": 0, "requests": 7}


@pytest.mark.parametrize("billing_tz", ZONES)
def test_an_account_without_usage_in_the_month_is_refused_after_the_settlement_run(store, billing_tz):
    run = datetime(2026, 6, 1, 2, tzinfo=UTC)
    before = ctx_at(run - timedelta(hours=1), billing_tz)
    busy = make_app(account_id="busy", ctx=before)
    quiet = make_app(account_id="quiet", ctx=before)
    usage.report_logins(before, busy, ["a"], last_second(MONTH, billing_tz))
    assert settle(run, billing_tz) == {"billed": 0, "skipped": 0, "no_charge": 1}  # quiet was not visited

    after = ctx_at(run + timedelta(hours=5), billing_tz)
    at = last_second(MONTH, billing_tz)
    closed(lambda: usage.report_search(after, quiet, 1_600_000, 0, at))
    closed(lambda: usage.report_logins(after, quiet, ["x"], at))
    closed(lambda: usage.report_push(after, quiet, 0, 40_000_000, at))
    assert list(UsageModel.query(quiet, consistent_read=True)) == []
    # a month before the closed one is closed too: its settlement window is over
    closed(lambda: usage.report_search(after, quiet, 1, 1, at - timedelta(days=40)))
    for day in (1, 2):
        assert settle(run + timedelta(days=day), billing_tz)["billed"] == 0
    assert bills("quiet") == [] and bills("busy") == []


def test_a_repeated_login_report_of_a_closed_month_is_refused_too(store):
    run = datetime(2026, 6, 1, 2, tzinfo=UTC)
    sid = make_app(ctx=ctx_at(run - timedelta(hours=1), "UTC"))
    usage.report_logins(ctx_at(run - timedelta(hours=1), "UTC"), sid, ["a", "b"], last_second(MONTH, "UTC"))
    settle(run, "UTC")
    closed(lambda: usage.report_logins(ctx_at(run, "UTC"), sid, ["a", "b"], last_second(MONTH, "UTC")))


# ------------------------------------------------------------------ around the daily push bill
@pytest.mark.parametrize("billing_tz", ZONES)
def test_push_calls_of_a_day_are_accepted_before_its_push_bill_and_refused_after(store, billing_tz):
    tz = ZoneInfo(billing_tz)
    day_end = datetime(2026, 5, 11, tzinfo=tz).astimezone(UTC)  # local midnight ending May 10
    bill_run = datetime(2026, 5, 11, 0, 30, tzinfo=UTC)  # the push-quota job's run billing May 10
    before = ctx_at(day_end + timedelta(seconds=30), billing_tz)
    sid = make_app(ctx=before)
    set_push(sid, [(datetime(2026, 5, 1, tzinfo=UTC), 150)], datetime(2026, 6, 1, tzinfo=UTC))
    AppModel(sid).update(actions=[AppModel.push_billing_shard.set(due_shard(sid))])  # as set_push_quota does
    at = day_end - timedelta(seconds=1)
    first = usage.report_push(before, sid, 120, 3, at)
    assert (first["date"], first["accepted_calls"], first["rejected_calls"]) == ("2026-05-10", 120, 0)

    summary = runner.run_job("push-quota-billing", bill_run, contexts(tz))["summary"]
    assert summary["billed"] == 1
    assert bills("acme") == [("2026-05-10#daily", 50_000, [("push_api_quota", 50)])]

    after = ctx_at(bill_run + timedelta(minutes=1), billing_tz)
    message = closed(lambda: usage.report_push(after, sid, 10, 0, at)).message
    assert "push calls of 2026-05-10" in message
    assert int(UsageModel.get(sid, "2026-05-10", consistent_read=True).push_calls) == 120
    # messages of that day belong to the month, still open: accepted
    assert usage.report_push(after, sid, 0, 4, at)["messages_month"] == 7
    # calls of the day that has not been billed yet are accepted
    today = usage.report_push(after, sid, 5, 0, day_end)
    assert (today["date"], today["accepted_calls"]) == ("2026-05-11", 5)
    assert bills("acme") == [("2026-05-10#daily", 50_000, [("push_api_quota", 50)])]


# ------------------------------------------------------------------ cost
def test_a_report_of_the_current_period_never_reads_the_close_markers(store):
    now = datetime(2026, 5, 20, 9, tzinfo=UTC)
    ctx = ctx_at(now, "UTC")
    sid = make_app(ctx=ctx)
    set_push(sid, [(datetime(2026, 5, 1, tzinfo=UTC), 150)], datetime(2026, 6, 1, tzinfo=UTC))
    costs = {}
    for name, report in (("search", lambda at: usage.report_search(ctx, sid, 1, 1, at)),
                         ("push", lambda at: usage.report_push(ctx, sid, 1, 1, at)),
                         ("push_messages", lambda at: usage.report_push(ctx, sid, 0, 1, at)),
                         ("logins", lambda at: usage.report_logins(ctx, sid, [f"u{at.day}"], at))):
        for label, at in (("current", now), ("late", datetime(2026, 4, 30, 23, tzinfo=UTC))):
            with count_requests() as counter:
                report(at)
            costs[name, label] = (counter.total, dict(counter.calls))
    print("requests per report:", costs)
    assert {key: total for key, (total, _) in costs.items()} == {
        # the current period: as before the close markers existed, no marker read or checked
        ("search", "current"): 2,  # GetItem app, UpdateItem month (ALL_NEW)
        ("push_messages", "current"): 3,  # GetItem app, GetItem day, UpdateItem month
        ("push", "current"): 4,  # GetItem app, GetItem day, TransactWriteItems, GetItem month
        ("logins", "current"): 4,  # GetItem app, BatchGetItem users, TransactWriteItems, GetItem month
        # a late report: GetItem of each marker of its ended periods, and one transaction with their checks
        ("search", "late"): 4,  # + GetItem month marker; the transaction answers no values: + GetItem month
        ("push_messages", "late"): 5,  # + GetItem month marker; TransactWriteItems for the UpdateItem; + GetItem
        ("push", "late"): 6,  # + GetItem month and day markers
        ("logins", "late"): 5,  # + GetItem month marker
    }
    assert costs["search", "late"][1] == {"GetItem": 3, "TransactWriteItems": 1}


# ------------------------------------------------------------------ races
def test_late_reports_racing_the_settlement_are_billed_or_refused_never_lost(store):
    """Eight accounts (four with usage in May, four without) send late search reports of May while
    the settlement runs. Every accepted report is in the account's bill: with 310,000 requests a
    report, n billed reports make ceil((310,000 n - 300,000) / 10,000) = 31 n - 30 blocks."""
    run = datetime(2026, 6, 1, 2, tzinfo=UTC)
    setup = ctx_at(run - timedelta(hours=1), "UTC")
    late = ctx_at(run, "UTC")
    at = last_second(MONTH, "UTC")
    sids = {f"acct{i}": make_app(account_id=f"acct{i}", ctx=setup) for i in range(8)}
    for sid in list(sids.values())[:4]:
        usage.report_logins(setup, sid, ["seen"], at)  # in the settlement index, billed nothing
    accepted = {account_id: 0 for account_id in sids}
    started = threading.Event()

    def reporter(account_id: str) -> None:
        for i in range(40):
            if i == 2:
                started.set()
            try:
                usage.report_search(late, sids[account_id], 0, 310_000, at)
            except Conflict as refused:
                assert refused.code == "period_closed"
                return
            accepted[account_id] += 1

    def settlement() -> dict[str, int]:
        started.wait(30)
        return settle(run, "UTC")

    results = run_together([settlement] + [lambda a=a: reporter(a) for a in sids])
    assert all(status == "ok" for status, _ in results), results
    assert sum(accepted.values()) > 0
    settle(run + timedelta(days=1), "UTC")  # a rerun bills what the first run had not reached (none here)
    settle(run + timedelta(days=2), "UTC")
    for account_id, sid in sids.items():
        n = accepted[account_id]
        item = UsageModel.get(sid, MONTH, consistent_read=True) if n else None
        assert (int(item.search_requests) if item else 0) == 310_000 * n, account_id
        expected = [(f"{MONTH}#monthly", 400 * (31 * n - 30), [("search_request_overage", 31 * n - 30)])] if n else []
        assert bills(account_id) == expected, account_id
        closed(lambda sid=sid: usage.report_search(late, sid, 0, 1, at))
    print("accepted late reports per account:", accepted)


def test_the_close_marker_only_moves_forward(store):
    june = ctx_at(datetime(2026, 6, 10, tzinfo=UTC), "UTC")
    billing.close_month(june, "2026-05")
    billing.close_month(june, "2026-04")  # a late rerun of an older month does not reopen May
    billing.close_month(june, "2026-05")  # idempotent
    assert billing.closed_through(june, billing.CLOSED_MONTH) == "2026-05"
    assert billing.closed_through(june, billing.CLOSED_PUSH_DAY) is None
    sid = make_app(ctx=june)
    closed(lambda: usage.report_search(ctx_at(datetime(2026, 6, 10, tzinfo=UTC), "UTC"), sid, 1, 0,
                                       datetime(2026, 4, 3, tzinfo=UTC)))
    AppModel.get(sid)  # the app is untouched by a refusal


def test_the_settlement_bills_the_table_not_a_stale_or_incomplete_index_copy(store):
    """The by_month index is eventually consistent: a report that beat the close may be missing from
    it (another app of the account) or be there with older counters. The settlement bills the
    account's month items read from the table after the close."""
    may = ctx_at(datetime(2026, 5, 31, 23, tzinfo=UTC), "UTC")
    listed, unlisted = make_app(ctx=may), make_app(ctx=may)
    for sid in (listed, unlisted):
        usage.report_search(may, sid, 0, 310_000)
    stale = UsageModel.get(listed, MONTH, consistent_read=True)
    stale.search_requests = 0  # the index copy from before the report
    run = ctx_at(datetime(2026, 6, 1, 2, tzinfo=UTC), "UTC")
    billing.close_month(run, MONTH)
    assert billing.settle_account(run, MONTH, "acme", [stale]) == "billed"
    assert bills("acme") == [(f"{MONTH}#monthly", 800, [("search_request_overage", 1)] * 2)]
