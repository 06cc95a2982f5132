"""Usage ingestion on the in-memory unit of work: exact MAU, the Developer cap, the push day's quota,
monthly meters, the usage view, reclamation and closed periods (409 `period_closed`), without AWS.
The same through DynamoDB (moto, DynamoDB Local), with concurrency and request counts, is in
tests/integration/test_usage_ingestion.py and tests/integration/test_period_close.py."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.api.http import status_of
from chalicelib.domain.errors import Conflict, InvalidRequest
from chalicelib.services import billing, usage
from chalicelib.store.dynamodb.usage_models import UsageModel
from chalicelib.store.port import Counts, Write
from tests.composed import make_ctx
from tests.fakes.uow import FakeStore, FakeUnitOfWork
from tests.unit.test_billing_services import push_app
from tests.unit.test_purchase_services import at, ctx_at, new_app

NOW = at("2026-03-20T09:30:00")
MONTH = "2026-03"


def make_app(tables: FakeStore, edition: str = "standard") -> int:
    """An enabled app on an edition (set on the record: purchases are tested elsewhere)."""
    sid = new_app(tables, at("2026-03-01T00:00:00"))
    with FakeUnitOfWork(tables) as u:
        app = u.apps.get(sid)
        assert app is not None
        app.edition, app.had_paid = edition, edition != "developer"
        u.apps.save(app)
        u.commit()
    return sid


def users(n: int, prefix: str = "u") -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(n)]


def seen(tables: FakeStore, sid: int, month: str = MONTH) -> set[str]:
    return {k[1] for k in tables.table(FakeUnitOfWork(tables).users.model) if k[0] == f"{sid}#{month}"}


def record(tables: FakeStore, sid: int, period: str) -> UsageModel | None:
    return FakeUnitOfWork(tables).usage.get(sid, period)


def closed(report: Callable[[], object]) -> Conflict:
    with pytest.raises(Conflict) as refused:
        report()
    assert refused.value.code == "period_closed" and status_of(refused.value) == 409
    return refused.value


def before_each_commit(monkeypatch: pytest.MonkeyPatch, hook: Callable[[list[Write]], None]) -> None:
    """Run `hook` (another writer) just before every commit of the fake, once the report decided."""
    real = FakeUnitOfWork._commit

    def commit(self: FakeUnitOfWork, writes: list[Write]) -> None:
        hook(writes)
        real(self, writes)

    monkeypatch.setattr(FakeUnitOfWork, "_commit", commit)


# ------------------------------------------------------------------ exact MAU
def test_mau_is_the_exact_union_of_repeated_and_overlapping_reports(tables: FakeStore) -> None:
    sid = make_app(tables)
    ctx = ctx_at(tables, NOW)
    rng = random.Random(20260320)
    pool = users(600)
    distinct_reports = [rng.sample(pool, rng.randint(1, 40)) for _ in range(100)]
    union: set[str] = set()
    for i in range(300):
        report = rng.choice(distinct_reports)  # many sent more than once
        union |= set(report)
        answer = usage.report_logins(ctx, sid, report, NOW - timedelta(days=rng.randint(0, 18)))
        assert answer["month"] == MONTH
        assert answer["accepted"] == len(set(report)) and answer["rejected_user_ids"] == []
        assert answer["mau"] == len(union), f"report {i}"
    assert usage.mau_of(ctx, sid, MONTH) == len(union) and seen(tables, sid) == union


def test_a_repeated_report_changes_nothing_and_duplicates_in_a_report_count_once(tables: FakeStore) -> None:
    sid = make_app(tables)
    ctx = ctx_at(tables, NOW)
    first = usage.report_logins(ctx, sid, ["a", "b", "a", "c", "b"])
    assert first == {"month": MONTH, "mau": 3, "accepted": 3, "rejected_user_ids": []}
    commits = tables.commits
    assert usage.report_logins(ctx, sid, ["c", "b", "a"]) == first
    assert tables.commits == commits  # nothing new: nothing written
    with pytest.raises(InvalidRequest):
        usage.report_logins(ctx, sid, [])
    with pytest.raises(InvalidRequest):  # in the future
        usage.report_logins(ctx, sid, ["a"], NOW + timedelta(seconds=1))


def test_a_large_report_is_counted_99_users_a_commit(tables: FakeStore) -> None:
    sid = make_app(tables)
    commits = tables.commits
    assert usage.report_logins(ctx_at(tables, NOW), sid, users(1000))["mau"] == 1000
    assert tables.commits - commits == 11  # 99 users + the month record each
    assert len(seen(tables, sid)) == 1000


def test_users_a_concurrent_report_counted_first_are_accepted_not_counted_twice(
        tables: FakeStore, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = make_app(tables)
    expires = datetime(2026, 4, 1, tzinfo=NOW.tzinfo) + timedelta(days=400)
    other = ["b", "d"]

    def concurrent_report(writes: list[Write]) -> None:
        if other:  # once: another report counts b and d between this one's reads and its commit
            with FakeUnitOfWork(tables) as u:
                for user in other:
                    u.users.see(sid, MONTH, user, expires)
                u.usage.count(Counts(sid, MONTH, "acme", expires, {"mau": len(other)}))
                other.clear()
                u.commit()

    before_each_commit(monkeypatch, concurrent_report)
    answer = usage.report_logins(ctx_at(tables, NOW), sid, ["a", "b", "c", "d"])
    assert answer == {"month": MONTH, "mau": 4, "accepted": 4, "rejected_user_ids": []}
    assert seen(tables, sid) == {"a", "b", "c", "d"}


def test_logins_belong_to_the_local_month_of_at(tables: FakeStore) -> None:
    sid = make_app(tables)
    shanghai = make_ctx(now=at("2026-04-02T00:00:00"), tz=ZoneInfo("Asia/Shanghai"),
                   uow=tables.uow)
    march_end = usage.report_logins(shanghai, sid, ["x"], at("2026-03-31T15:59:59"))
    april = usage.report_logins(shanghai, sid, ["x", "y"], at("2026-03-31T17:00:00"))
    assert (march_end["month"], march_end["mau"], april["month"], april["mau"]) == ("2026-03", 1, "2026-04", 2)


# ------------------------------------------------------------------ Developer cap
def test_developer_admits_100_users_a_month_and_keeps_known_users(tables: FakeStore) -> None:
    sid = make_app(tables, "developer")
    ctx = ctx_at(tables, NOW)
    first = usage.report_logins(ctx, sid, users(60))
    assert (first["mau"], first["accepted"], first["rejected_user_ids"]) == (60, 60, [])

    second = usage.report_logins(ctx, sid, users(50, "v"))
    assert (second["mau"], second["accepted"]) == (100, 40)
    assert second["rejected_user_ids"] == users(50, "v")[40:]

    late = usage.report_logins(ctx, sid, ["w-101st", *users(60), "v00039"])
    assert (late["mau"], late["accepted"], late["rejected_user_ids"]) == (100, 61, ["w-101st"])
    assert usage.report_logins(ctx, sid, ["v00045"])["rejected_user_ids"] == ["v00045"]
    assert len(seen(tables, sid)) == usage.mau_of(ctx, sid, MONTH) == 100

    april = ctx_at(tables, at("2026-04-01T00:00:01"))  # a new month, a new allowance
    assert usage.report_logins(april, sid, ["w-101st"]) == {
        "month": "2026-04", "mau": 1, "accepted": 1, "rejected_user_ids": []}


def test_a_capped_month_filled_by_a_concurrent_report_refuses_the_rest(
        tables: FakeStore, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = make_app(tables, "developer")
    ctx = ctx_at(tables, NOW)
    usage.report_logins(ctx, sid, users(90))
    rival = users(10, "r")

    def concurrent_report(writes: list[Write]) -> None:
        if rival:  # once: another report takes the last 10 places first
            taken = list(rival)
            rival.clear()
            usage.report_logins(ctx, sid, taken)

    before_each_commit(monkeypatch, concurrent_report)
    answer = usage.report_logins(ctx, sid, [*users(5, "n"), "u00001"])
    assert (answer["mau"], answer["accepted"], answer["rejected_user_ids"]) == (100, 1, users(5, "n"))
    assert len(seen(tables, sid)) == 100


# ------------------------------------------------------------------ push
def test_push_calls_above_the_days_quota_are_refused(tables: FakeStore, notifier: object) -> None:
    sid = push_app(tables, 100_000, 150)  # quota 100 until 2026-03-11T08:00, then 150
    morning = at("2026-03-11T07:00:00")
    ctx = ctx_at(tables, at("2026-03-11T09:00:00"))
    assert usage.report_push(ctx, sid, 90, 1_000, morning) == {
        "date": "2026-03-11", "quota": 100, "accepted_calls": 90, "rejected_calls": 0, "messages_month": 1_000}
    assert usage.report_push(ctx, sid, 30, 500, morning) == {
        "date": "2026-03-11", "quota": 100, "accepted_calls": 10, "rejected_calls": 20, "messages_month": 1_500}
    # the quota went up to 150 at 08:00: 50 more calls that day
    assert usage.report_push(ctx, sid, 70, 0) == {
        "date": "2026-03-11", "quota": 150, "accepted_calls": 50, "rejected_calls": 20, "messages_month": 1_500}
    assert usage.report_push(ctx, sid, 1, 0)["accepted_calls"] == 0
    yesterday = usage.report_push(ctx, sid, 120, 7, at("2026-03-10T23:00:00"))
    assert (yesterday["date"], yesterday["accepted_calls"], yesterday["messages_month"]) == ("2026-03-10", 100, 1_507)
    assert [int(record(tables, sid, d).push_calls) for d in ("2026-03-11", "2026-03-10")] == [150, 100]  # type: ignore[union-attr]


def test_a_push_report_that_loses_the_day_to_a_concurrent_one_is_decided_again(
        tables: FakeStore, notifier: object, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = push_app(tables, 100_000, 150)
    ctx = ctx_at(tables, at("2026-03-12T09:00:00"))
    rival = [140]

    def concurrent_report(writes: list[Write]) -> None:
        if rival:  # once: another report takes 140 of the day's 150 calls first
            usage.report_push(ctx, sid, rival.pop(), 0)

    before_each_commit(monkeypatch, concurrent_report)
    answer = usage.report_push(ctx, sid, 30, 2)
    assert (answer["accepted_calls"], answer["rejected_calls"], answer["messages_month"]) == (10, 20, 2)
    assert int(record(tables, sid, "2026-03-12").push_calls) == 150  # type: ignore[union-attr]


def test_without_the_push_plugin_every_call_is_refused_but_messages_are_counted(tables: FakeStore) -> None:
    sid = make_app(tables)
    assert usage.report_push(ctx_at(tables, NOW), sid, 5, 12) == {
        "date": "2026-03-20", "quota": 0, "accepted_calls": 0, "rejected_calls": 5, "messages_month": 12}


# ------------------------------------------------------------------ monthly meters, the view, reclamation
def test_search_counters_add_up_per_local_month_and_every_month_record_is_indexed(tables: FakeStore) -> None:
    sid = make_app(tables)
    ctx = ctx_at(tables, NOW)
    assert usage.report_search(ctx, sid, 1_000_000, 100_000) == {
        "month": MONTH, "stored_messages": 1_000_000, "requests": 100_000}
    assert usage.report_search(ctx, sid, 560_001, 210_000) == {
        "month": MONTH, "stored_messages": 1_560_001, "requests": 310_000}
    assert usage.report_search(ctx, sid, 0, 0)["requests"] == 310_000
    assert usage.report_meter(ctx, sid, "push.messages", 4) == {"month": MONTH, "meter": "push.messages",
                                                                "quantity": 4}
    feb = usage.report_search(ctx, sid, 5, 6, at("2026-02-28T23:59:00"))
    assert feb == {"month": "2026-02", "stored_messages": 5, "requests": 6}
    listed = [(a, [int(r.sdkappid) for r in rs]) for a, rs in billing.usage_accounts(tables.uow, MONTH)]
    assert listed == [("acme", [sid])]


def test_get_usage_answers_the_months_counters(tables: FakeStore, notifier: object) -> None:
    sid = push_app(tables, 100_000, 130)
    ctx = ctx_at(tables, at("2026-03-20T09:30:00"))
    usage.report_logins(ctx, sid, ["a", "b"])
    usage.report_push(ctx, sid, 4, 40)
    usage.report_push(ctx, sid, 2, 2, at("2026-03-12T00:00:00"))
    usage.report_search(ctx, sid, 9, 8)
    assert usage.get_usage(ctx, sid) == {
        "sdkappid": sid, "month": MONTH, "mau": 2,
        "push": {"messages": 42, "broadcast_calls_today": 4, "daily_quota": 130,
                 "broadcast_calls_by_day": {"2026-03-12": 2, "2026-03-20": 4}},
        "search": {"stored_messages": 9, "requests": 8},
    }
    with pytest.raises(InvalidRequest):
        usage.get_usage(ctx, sid, "2026-13")


def test_reclamation_deletes_the_usage_but_keeps_an_unsettled_month_to_bill(tables: FakeStore) -> None:
    sid = make_app(tables)
    ctx = ctx_at(tables, NOW)
    usage.report_logins(ctx, sid, users(30))
    usage.report_logins(ctx, sid, users(5), at("2026-02-02T00:00:00"))
    assert usage.delete_for_app(ctx, sid) == 30 + 5 + 2
    assert seen(tables, sid) == seen(tables, sid, "2026-02") == set()
    assert usage.get_usage(ctx, sid)["mau"] == 0  # out of the app's usage...
    kept = [r for _, rs in billing.usage_accounts(tables.uow, MONTH) for r in rs]
    assert [(r.period, int(r.mau)) for r in kept] == [("2026-03#unbilled", 30)]  # ...still billed
    assert usage.delete_for_app(ctx, sid) == 0


# ------------------------------------------------------------------ closed periods
def test_a_late_report_of_a_closed_month_is_refused_and_the_next_month_is_open(tables: FakeStore) -> None:
    sid = make_app(tables)
    april = ctx_at(tables, at("2026-04-01T02:00:00"))
    late = at("2026-03-31T23:59:59")
    assert usage.report_search(april, sid, 0, 7, late)["requests"] == 7  # not closed yet: accepted
    billing.close_month(april, MONTH)
    assert billing.closed_through(april, billing.CLOSED_MONTH) == MONTH
    message = closed(lambda: usage.report_search(april, sid, 0, 10_000, late)).message
    assert MONTH in message and "billed" in message
    closed(lambda: usage.report_logins(april, sid, ["late-user"], late))
    closed(lambda: usage.report_push(april, sid, 0, 5, late))
    closed(lambda: usage.report_meter(april, sid, "search.requests", 1, at("2026-03-02T00:00:00")))
    assert usage.mau_of(april, sid, MONTH) == 0 and usage.get_usage(april, sid, MONTH)["search"]["requests"] == 7
    assert usage.report_search(april, sid, 0, 3, at("2026-04-01T00:00:00"))["requests"] == 3


def test_push_calls_of_a_billed_day_are_refused(tables: FakeStore, notifier: object) -> None:
    sid = push_app(tables, 100_000, 150)
    ctx = ctx_at(tables, at("2026-03-12T00:30:00"))
    billing.close_push_day(ctx, date(2026, 3, 11))
    closed(lambda: usage.report_push(ctx, sid, 1, 0, at("2026-03-11T23:00:00")))
    late_messages = usage.report_push(ctx, sid, 0, 3, at("2026-03-11T23:00:00"))  # the month is open
    assert late_messages["messages_month"] == 3


def test_a_month_closed_between_the_check_and_the_commit_refuses_the_report(
        tables: FakeStore, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = make_app(tables)
    april = ctx_at(tables, at("2026-04-01T02:00:00"))
    late = at("2026-03-31T23:59:59")

    def settlement_starts(writes: list[Write]) -> None:
        with FakeUnitOfWork(tables) as u:
            u.periods.close(billing.CLOSED_MONTH, MONTH)

    before_each_commit(monkeypatch, settlement_starts)
    closed(lambda: usage.report_logins(april, sid, ["a"], late))
    closed(lambda: usage.report_search(april, sid, 0, 1, late))
    assert record(tables, sid, MONTH) is None and seen(tables, sid) == set()

