"""Usage ingestion at the storage level (billing-rules section 6): exact, idempotent MAU under
repeated, overlapping and concurrent reports; the Developer cap under concurrency; push quota
admission; search counters; the settlement index keys; reclamation; the cost of a report.

Marked `storage`: runs on moto in-process and again on DynamoDB Local. On moto every request is
made atomic by the lock of test_concurrency.py (moto 5 applies conditional writes without one)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.api.accounts import account_created
from chalicelib.api.apps import app_created
from chalicelib.domain.errors import Conflict, Gone, InvalidRequest
from chalicelib.jobs import runner
from chalicelib.services import accounts, apps, lifecycle, usage
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import NONE
from chalicelib.store.dynamodb.models import AppModel, QuotaChangeMap, due_shard
from chalicelib.store.dynamodb.usage_models import BillModel, UsageModel, UserSeenModel, users_key
from tests.composed import contexts, make_ctx
from tests.integration.requests import count_requests
from tests.integration.test_concurrency import atomic_moto_requests, run_together  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.storage, pytest.mark.usefixtures("store")]

NOW = datetime(2026, 5, 20, 9, 30, tzinfo=UTC)
CTX = make_ctx(now=NOW, tz=ZoneInfo("UTC"))
MONTH = "2026-05"


def make_app(edition: str = "standard", account_id: str = "acme", ctx: Ctx = CTX) -> int:
    """An enabled app on an edition (the edition set on the model: purchases are tested elsewhere)."""
    try:
        accounts.create_account(ctx, account_id, f"{account_id}@x.test", "+15550100", NONE, account_created)
    except Conflict:
        pass
    sid = int(apps.create_app(ctx, account_id, "chat", "us", NONE, app_created)[1]["sdkappid"])
    if edition != "developer":
        AppModel(sid).update(actions=[AppModel.edition.set(edition), AppModel.had_paid.set(True)])
    return sid


def users(n: int, prefix: str = "u") -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(n)]


def seen(sid: int, month: str = MONTH) -> set[str]:
    return {u.user_id for u in UserSeenModel.query(users_key(sid, month), consistent_read=True)}


# ------------------------------------------------------------------ exact MAU
@pytest.mark.heavy
def test_mau_is_the_exact_union_of_1000_repeated_and_overlapping_reports(store):
    sid = make_app()
    rng = random.Random(20260520)
    pool = users(1500)
    distinct_reports = [rng.sample(pool, rng.randint(1, 40)) for _ in range(400)]
    reports = [rng.choice(distinct_reports) for _ in range(1000)]  # many sent more than once
    union: set[str] = set()
    for i, report in enumerate(reports):
        union |= set(report)
        at = NOW - timedelta(days=rng.randint(0, 18), seconds=rng.randint(0, 86399))
        answer = usage.report_logins(CTX, sid, report, at)
        assert answer["month"] == MONTH
        assert answer["accepted"] == len(set(report)) and answer["rejected_user_ids"] == []
        assert answer["mau"] == len(union), f"report {i}"
    assert len(union) > 1000
    assert usage.mau_of(CTX, sid, MONTH) == len(union)
    assert seen(sid) == union


def test_a_repeated_report_changes_nothing_and_duplicates_in_a_report_count_once(store):
    sid = make_app()
    first = usage.report_logins(CTX, sid, ["a", "b", "a", "c", "b"])
    assert first == {"month": MONTH, "mau": 3, "accepted": 3, "rejected_user_ids": []}
    assert usage.report_logins(CTX, sid, ["c", "b", "a"]) == first
    assert usage.mau_of(CTX, sid, MONTH) == 3


def test_concurrent_overlapping_reports_converge_to_the_exact_mau(store):
    sid = make_app()
    rng = random.Random(7)
    pool = users(600)
    batches = [[rng.sample(pool, rng.randint(20, 120)) for _ in range(6)] for _ in range(8)]

    def worker(reports: list[list[str]]) -> list[int]:
        return [usage.report_logins(CTX, sid, r)["mau"] for r in reports]

    results = run_together([lambda b=b: worker(b) for b in batches])

    assert all(status == "ok" for status, _ in results), results
    union = {u for b in batches for r in b for u in r}
    assert usage.mau_of(CTX, sid, MONTH) == len(union)
    assert seen(sid) == union
    for (_, maus), b in zip(results, batches, strict=True):
        # every answer counts at least the report's own users, and a thread's answers never go down
        assert all(m >= len(set(r)) for m, r in zip(maus, b, strict=True))
        assert maus == sorted(maus)


def test_logins_belong_to_the_local_month_of_at(store):
    shanghai = make_ctx(now=datetime(2026, 6, 2, tzinfo=UTC), tz=ZoneInfo("Asia/Shanghai"))
    sid = make_app(ctx=shanghai)
    may_end = usage.report_logins(shanghai, sid, ["x"], datetime(2026, 5, 31, 15, 59, 59, tzinfo=UTC))
    june = usage.report_logins(shanghai, sid, ["x", "y"], datetime(2026, 5, 31, 17, 0, tzinfo=UTC))
    assert (may_end["month"], may_end["mau"]) == ("2026-05", 1)
    assert (june["month"], june["mau"]) == ("2026-06", 2)
    assert (usage.mau_of(CTX, sid, "2026-05"), usage.mau_of(CTX, sid, "2026-06")) == (1, 2)


# ------------------------------------------------------------------ Developer cap
def test_developer_admits_100_users_a_month_and_keeps_known_users(store):
    sid = make_app("developer")
    first = usage.report_logins(CTX, sid, users(60))
    assert (first["mau"], first["accepted"], first["rejected_user_ids"]) == (60, 60, [])

    second = usage.report_logins(CTX, sid, users(50, "v"))
    assert (second["mau"], second["accepted"]) == (100, 40)
    assert second["rejected_user_ids"] == users(50, "v")[40:]

    late = usage.report_logins(CTX, sid, ["w-101st", *users(60), "v00039"])
    assert (late["mau"], late["accepted"], late["rejected_user_ids"]) == (100, 61, ["w-101st"])
    assert usage.report_logins(CTX, sid, ["v00045"])["rejected_user_ids"] == ["v00045"]
    assert len(seen(sid)) == usage.mau_of(CTX, sid, MONTH) == 100

    june = make_ctx(now=datetime(2026, 6, 1, 0, 0, 1, tzinfo=UTC), tz=CTX.tz)  # a new month, a new allowance
    assert usage.report_logins(june, sid, ["w-101st"]) == {
        "month": "2026-06", "mau": 1, "accepted": 1, "rejected_user_ids": []
    }


def test_concurrent_developer_reports_never_pass_the_cap_and_count_each_user_once(store):
    sid = make_app("developer")
    rng = random.Random(11)
    pool = users(160)
    reports = [rng.sample(pool, 40) for _ in range(12)]  # heavy overlap: the same new user in many reports

    results = run_together([lambda r=r: usage.report_logins(CTX, sid, r) for r in reports])

    assert all(status == "ok" for status, _ in results), results
    answers = [a for _, a in results]
    counted = seen(sid)
    assert len(counted) == usage.mau_of(CTX, sid, MONTH) == 100
    rejected = {u for a in answers for u in a["rejected_user_ids"]}
    assert not rejected & counted  # a refused user was never counted by another report
    accepted = {u for a, r in zip(answers, reports, strict=True) for u in r if u not in a["rejected_user_ids"]}
    assert accepted == counted
    assert all(a["mau"] <= 100 for a in answers)


def test_upgraded_developer_app_keeps_counting_the_month_exactly(store):
    sid = make_app("developer")
    usage.report_logins(CTX, sid, users(100))
    AppModel(sid).update(actions=[AppModel.edition.set("standard"), AppModel.had_paid.set(True)])
    answer = usage.report_logins(CTX, sid, users(150))
    assert (answer["mau"], answer["rejected_user_ids"]) == (150, [])


# ------------------------------------------------------------------ refusals
def test_a_login_in_the_future_is_refused(store):
    sid = make_app()
    with pytest.raises(InvalidRequest):
        usage.report_logins(CTX, sid, ["a"], NOW + timedelta(seconds=1))
    assert usage.report_logins(CTX, sid, ["a"], NOW)["mau"] == 1


@pytest.mark.parametrize("status", ["disabled", "stopped"])
def test_logins_and_push_to_an_app_not_enabled_are_refused(store, status):
    sid = make_app()
    AppModel(sid).update(actions=[AppModel.status.set(status)])
    for report in (lambda: usage.report_logins(CTX, sid, ["a"]), lambda: usage.report_push(CTX, sid, 1, 1)):
        with pytest.raises(Conflict) as err:
            report()
        assert err.value.code == "not_in_service"
    assert usage.mau_of(CTX, sid, MONTH) == 0 and seen(sid) == set()


# ------------------------------------------------------------------ push
def set_push(sid: int, changes: list[tuple[datetime, int]], until: datetime) -> None:
    AppModel(sid).update(actions=[
        AppModel.push_quota_log.set([QuotaChangeMap(at=at, quota=q) for at, q in changes]),
        AppModel.push_quota.set(changes[-1][1]),
        AppModel.legacy_push_until.set(until),
    ])


def test_push_calls_above_the_days_quota_are_refused(store):
    sid = make_app()
    set_push(sid, [(datetime(2026, 5, 1, tzinfo=UTC), 100), (datetime(2026, 5, 20, 8, tzinfo=UTC), 150)],
             datetime(2026, 6, 1, tzinfo=UTC))
    morning = datetime(2026, 5, 20, 7, tzinfo=UTC)
    assert usage.report_push(CTX, sid, 90, 1_000, morning) == {
        "date": "2026-05-20", "quota": 100, "accepted_calls": 90, "rejected_calls": 0, "messages_month": 1_000,
    }
    assert usage.report_push(CTX, sid, 30, 500, morning) == {
        "date": "2026-05-20", "quota": 100, "accepted_calls": 10, "rejected_calls": 20, "messages_month": 1_500,
    }
    # the quota went up to 150 at 08:00: 50 more calls that day
    assert usage.report_push(CTX, sid, 70, 0) == {
        "date": "2026-05-20", "quota": 150, "accepted_calls": 50, "rejected_calls": 20, "messages_month": 1_500,
    }
    assert usage.report_push(CTX, sid, 1, 0)["accepted_calls"] == 0
    yesterday = usage.report_push(CTX, sid, 120, 7, datetime(2026, 5, 19, 23, tzinfo=UTC))
    assert (yesterday["date"], yesterday["accepted_calls"], yesterday["messages_month"]) == ("2026-05-19", 100, 1_507)
    assert int(UsageModel.get(sid, "2026-05-20").push_calls) == 150
    assert int(UsageModel.get(sid, "2026-05-19").push_calls) == 100


def test_without_the_push_plugin_every_call_is_refused_but_messages_are_counted(store):
    sid = make_app()
    assert usage.report_push(CTX, sid, 5, 12) == {
        "date": "2026-05-20", "quota": 0, "accepted_calls": 0, "rejected_calls": 5, "messages_month": 12,
    }
    set_push(sid, [(datetime(2026, 4, 1, tzinfo=UTC), 100)], datetime(2026, 5, 1, tzinfo=UTC))  # lapsed
    assert usage.report_push(CTX, sid, 5, 0)["quota"] == 0


def test_concurrent_push_reports_never_pass_the_days_quota(store, patient_retries):
    sid = make_app()
    set_push(sid, [(datetime(2026, 5, 1, tzinfo=UTC), 120)], datetime(2026, 6, 1, tzinfo=UTC))

    results = run_together([lambda: usage.report_push(CTX, sid, 7, 3) for _ in range(24)])

    assert all(status == "ok" for status, _ in results), results
    answers = [a for _, a in results]
    assert sum(a["accepted_calls"] for a in answers) == 120
    assert sum(a["rejected_calls"] for a in answers) == 24 * 7 - 120
    assert int(UsageModel.get(sid, "2026-05-20", consistent_read=True).push_calls) == 120
    assert int(UsageModel.get(sid, MONTH, consistent_read=True).push_messages) == 72


# ------------------------------------------------------------------ search
def test_search_counters_add_up_per_local_month(store):
    sid = make_app()
    assert usage.report_search(CTX, sid, 1_000_000, 100_000) == {
        "month": MONTH, "stored_messages": 1_000_000, "requests": 100_000
    }
    assert usage.report_search(CTX, sid, 560_001, 210_000) == {
        "month": MONTH, "stored_messages": 1_560_001, "requests": 310_000
    }
    assert usage.report_search(CTX, sid, 0, 0) == {"month": MONTH, "stored_messages": 1_560_001, "requests": 310_000}
    april = usage.report_search(CTX, sid, 5, 6, datetime(2026, 4, 30, 23, 59, tzinfo=UTC))
    assert april == {"month": "2026-04", "stored_messages": 5, "requests": 6}


# ------------------------------------------------------------------ settlement index, reads
def test_every_month_item_carries_the_settlement_index_keys(store):
    logins, pushes, searches = make_app(account_id="acme"), make_app(account_id="acme"), make_app(account_id="zeta")
    usage.report_logins(CTX, logins, ["a"])
    usage.report_push(CTX, pushes, 0, 10)
    usage.report_search(CTX, searches, 1, 0)

    found = {}
    for account_id, sid in (("acme", logins), ("acme", pushes), ("zeta", searches)):
        item = UsageModel.get(sid, MONTH, consistent_read=True)
        assert (item.account_id, item.account_app) == (account_id, f"{account_id}#{sid}")
        assert item.month_shard == f"{MONTH}#{due_shard(account_id)}"
        assert item.expires == datetime(2026, 6, 1, tzinfo=UTC) + timedelta(days=400)
        for indexed in UsageModel.by_month.query(item.month_shard):
            found[indexed.account_app] = int(indexed.sdkappid)
    assert found == {f"acme#{logins}": logins, f"acme#{pushes}": pushes, f"zeta#{searches}": searches}
    (user,) = UserSeenModel.query(users_key(logins, MONTH))
    assert user.expires == datetime(2026, 6, 1, tzinfo=UTC) + timedelta(days=400)


def test_get_usage_answers_the_months_counters(store):
    sid = make_app()
    set_push(sid, [(datetime(2026, 5, 1, tzinfo=UTC), 130)], datetime(2026, 6, 1, tzinfo=UTC))
    usage.report_logins(CTX, sid, ["a", "b"])
    usage.report_push(CTX, sid, 4, 40)
    usage.report_push(CTX, sid, 2, 2, datetime(2026, 5, 3, tzinfo=UTC))
    usage.report_search(CTX, sid, 9, 8)
    assert usage.get_usage(CTX, sid) == {
        "sdkappid": sid,
        "month": MONTH,
        "mau": 2,
        "push": {"messages": 42, "broadcast_calls_today": 4, "daily_quota": 130,
                 "broadcast_calls_by_day": {"2026-05-03": 2, "2026-05-20": 4}},
        "search": {"stored_messages": 9, "requests": 8},
    }
    empty = usage.get_usage(CTX, sid, "2026-04")
    assert (empty["mau"], empty["push"]["messages"], empty["push"]["broadcast_calls_today"]) == (0, 0, 4)
    with pytest.raises(InvalidRequest):
        usage.get_usage(CTX, sid, "2026-13")


# ------------------------------------------------------------------ reclamation
def test_reclamation_deletes_the_apps_usage_and_user_sets(store):
    sid, other = make_app(), make_app()
    for s in (sid, other):
        usage.report_logins(CTX, s, users(30))
        usage.report_logins(CTX, s, users(5), datetime(2026, 4, 2, tzinfo=UTC))
        usage.report_search(CTX, s, 1, 1)
    set_push(sid, [(datetime(2026, 5, 1, tzinfo=UTC), 100)], datetime(2026, 6, 1, tzinfo=UTC))
    usage.report_push(CTX, sid, 3, 3)
    AppModel(sid).update(actions=[AppModel.status.set("stopped"), AppModel.stopped_at.set(NOW)])

    lifecycle.delete_app(CTX, sid)

    # usage and user sets go; May is not settled yet, so its counters stay as an unbilled record
    kept = list(UsageModel.query(sid, consistent_read=True))
    assert [(u.period, int(u.mau), int(u.search_stored), u.month_shard) for u in kept] == [
        ("2026-05#unbilled", 30, 1, f"2026-05#{due_shard('acme')}")]
    assert usage.mau_of(CTX, sid, MONTH) == 0
    assert seen(sid, "2026-05") == seen(sid, "2026-04") == set()
    assert usage.mau_of(CTX, other, MONTH) == 30 and len(seen(other, "2026-04")) == 5  # another app keeps its own
    with pytest.raises(Gone):
        usage.report_logins(CTX, sid, ["a"])
    assert usage.delete_for_app(CTX, sid) == 0

    # the settlement bills May's counters, then deletes them; another app's stay
    runner.run_job("monthly-settlement", datetime(2026, 6, 1, 2, 0, tzinfo=UTC), contexts(ZoneInfo("UTC")))
    assert list(UsageModel.query(sid, consistent_read=True)) == []
    assert usage.mau_of(CTX, other, MONTH) == 30
    assert list(BillModel.query("acme")) == []  # under the free allowances: nothing to bill


def test_reclaimed_well_after_its_month_was_settled_keeps_no_counters(store):
    sid = make_app()
    usage.report_logins(CTX, sid, users(3))
    AppModel(sid).update(actions=[AppModel.status.set("stopped"), AppModel.stopped_at.set(NOW)])
    later = make_ctx(now=datetime(2026, 6, 5, tzinfo=UTC), tz=ZoneInfo("UTC"))  # May was settled on Jun 1-3
    lifecycle.delete_app(later, sid)
    assert list(UsageModel.query(sid, consistent_read=True)) == []


# ------------------------------------------------------------------ cost
def test_a_report_of_1000_new_users_costs_at_most_45_requests(store):
    sid = make_app()
    with count_requests() as counter:
        answer = usage.report_logins(CTX, sid, users(1000))
    print(f"\n1,000-user login report (Standard): {counter.total} DynamoDB requests {dict(counter.calls)}")
    assert answer["mau"] == 1000 and len(seen(sid)) == 1000
    assert counter.total <= 45
    assert counter.calls["TransactWriteItems"] == 11  # 99 users + the month item each

    with count_requests() as again:
        assert usage.report_logins(CTX, sid, users(1000))["mau"] == 1000
    print(f"the same report again: {again.total} requests {dict(again.calls)}")
    assert again.total <= 45 and "TransactWriteItems" not in again.calls  # nothing new: nothing written

    dev = make_app("developer")
    with count_requests() as capped:
        answer = usage.report_logins(CTX, dev, users(1000))
    print(f"1,000-user login report (Developer, 100 admitted): {capped.total} requests {dict(capped.calls)}")
    assert (answer["mau"], answer["accepted"], len(answer["rejected_user_ids"])) == (100, 100, 900)
    assert capped.total <= 10
