"""Worked examples 5, 6, 7, 9 and 10: bills posted once, charged cash then gift, arrears enforced."""

from __future__ import annotations

import pytest

from chalicelib.store.dynamodb.models import AppModel, due_shard
from chalicelib.store.dynamodb.usage_models import UsageModel
from tests.scenarios.test_expiry_lifecycle import notes


def report_logins(api, sid: int, users: int, at: str) -> dict:
    """`users` distinct users log in (reports of 1,000, the contract's maximum)."""
    out: dict = {}
    for first in range(0, users, 1000):
        ids = [f"user{i}" for i in range(first, min(users, first + 1000))]
        out = api.ok("POST", "/v1/usage/logins", {"sdkappid": sid, "user_ids": ids, "at": at}, expect=200,
                     role="service")
    return out


def put_month_usage(sid: int, account: str, month: str, *, mau: int = 0, push: int = 0, stored: int = 0,
                    requests: int = 0) -> None:
    """Usage counters as ingestion leaves them (the month item the settlement index reads)."""
    UsageModel(sid, month, account_id=account, month_shard=f"{month}#{due_shard(account)}",
               account_app=f"{account}#{sid}", mau=mau, push_messages=push, search_stored=stored,
               search_requests=requests).save()


def bills(api, account="acme", period=None):
    q = f"?period={period}" if period else ""
    return api.ok("GET", f"/v1/accounts/{account}/bills{q}")["items"]


@pytest.mark.heavy
def test_examples_5_and_6_monthly_bill_posted_once_on_days_1_to_3(api):
    """Everything through the API: usage reported by the IM service, the plugins bought."""
    sid = api.paid_app("2026-05-01T00:00:00Z", "2000.00", "standard", 3, plugins=("push", "search"))
    api.clock("2026-05-20T00:00:00Z")
    assert report_logins(api, sid, 12_345, "2026-05-19T12:00:00Z")["mau"] == 12_345
    report_logins(api, sid, 500, "2026-05-19T13:00:00Z")  # the same users again: counted once
    push = api.ok("POST", "/v1/usage/push", {"sdkappid": sid, "broadcast_calls": 0, "messages": 30_012_345,
                                             "at": "2026-05-19T12:00:00Z"}, expect=200, role="service")
    assert push["messages_month"] == 30_012_345
    api.ok("POST", "/v1/usage/search", {"sdkappid": sid, "stored_messages": 1_560_001, "requests": 310_000,
                                        "at": "2026-05-19T12:00:00Z"}, expect=200, role="service")
    assert api.ok("GET", f"/v1/apps/{sid}/usage?month=2026-05")["mau"] == 12_345
    before = api.balance()["total"]
    assert before == f"{2000 - 3 * 399 - 299 - 399:.2f}"
    result = api.clock("2026-06-04T00:00:00Z", run_jobs=True)
    runs = [r for r in result["jobs_run"] if r["job"] == "monthly-settlement" and r["at"] >= "2026-06"]
    assert [r["at"] for r in runs] == ["2026-06-01T02:00:00Z"]  # the runs of June 2 and 3 did not act
    assert [r["summary"]["billed"] for r in runs] == [1]
    (bill,) = bills(api, period="2026-05")
    assert bill["kind"] == "monthly" and bill["period"] == "2026-05"
    assert bill["posted_at"] == "2026-06-01T02:00:00Z"
    assert [(x["item"], x["quantity"], x["unit_price"], x["amount"]) for x in bill["lines"]] == [
        ("mau_overage", 2345, "0.015", "35.18"),
        ("push_message_overage", 2, "0.10", "0.20"),
        ("search_storage_overage", 3, "4.00", "12.00"),
        ("search_request_overage", 1, "4.00", "4.00"),
    ]
    assert bill["total"] == "51.38"
    assert api.balance() == {"cash": "53.62", "gift": "0.00", "total": "53.62"}  # 105.00 - 51.38
    entries = api.ok("GET", "/v1/accounts/acme/ledger?limit=1000")["items"]
    assert (entries[-1]["kind"], entries[-1]["cash"]) == ("bill", "-51.38")


@pytest.mark.heavy
def test_example_9_mau_prorated_for_an_app_disabled_during_the_month(api):
    sid = api.paid_app("2026-09-01T00:00:00Z", "500.00")
    report_logins(api, sid, 14_000, "2026-09-01T00:00:00Z")
    api.clock("2026-09-16T00:00:00Z", run_jobs=True)
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})  # disabled at 2026-09-16T00:00Z: enabled 15 of 30 days
    api.clock("2026-10-01T03:00:00Z", run_jobs=True)
    (bill,) = bills(api, period="2026-09")
    assert [(x["item"], x["quantity"], x["amount"]) for x in bill["lines"]] == [("mau_overage", 4000, "30.00")]


@pytest.mark.heavy
def test_example_9_for_an_app_stopped_on_expiry(api):
    """The same rule for a stop: the stop happens at the enforcement run (hh:05), prorated to the second."""
    sid = api.paid_app("2026-08-15T00:00:00Z", "500.00")  # expires 2026-09-15T00:00Z, stopped at 2026-09-16T00:05Z
    api.clock("2026-09-01T00:00:00Z", run_jobs=True)
    # the month's 14,000 users as ingestion counts them (the test above reports them one by one)
    put_month_usage(sid, "acme", "2026-09", mau=14_000)
    api.clock("2026-10-01T03:00:00Z", run_jobs=True)
    assert api.ok("GET", f"/v1/apps/{sid}")["stopped_at"] == "2026-09-16T00:05:00Z"
    (bill,) = bills(api, period="2026-09")
    # 4,000 x 0.015 x (15 days + 300 s) / 30 days = 30.00694... -> 30.01
    assert [(x["item"], x["quantity"], x["amount"]) for x in bill["lines"]] == [("mau_overage", 4000, "30.01")]


def test_example_10_arrears_stop_at_24h_and_top_up_brings_apps_back(api):
    # cash 10.00 left, package valid until 2026-07-01
    sid = api.paid_app("2026-04-01T00:00:00Z", "1207.00", "standard", 3)
    api.clock("2026-05-20T00:00:00Z")
    dev = api.app(name="trial")  # Developer, valid until 2026-06-20
    put_month_usage(sid, "acme", "2026-05", mau=12_345)
    api.clock("2026-06-01T02:00:00Z", run_jobs=True)
    account = api.ok("GET", "/v1/accounts/acme")
    assert account["balance"] == {"cash": "-25.18", "gift": "0.00", "total": "-25.18"}
    assert account["status"] == "arrears" and account["arrears_since"] == "2026-06-01T02:00:00Z"
    assert [(n["kind"], n["channel"]) for n in notes(api, kind="arrears")] == [("arrears", "email"), ("arrears", "sms")]
    api.clock("2026-06-02T02:00:00Z", run_jobs=True)
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "enabled"  # the :15 run has not come yet
    result = api.clock("2026-06-02T03:00:00Z", run_jobs=True)
    stops = [r for r in result["jobs_run"] if r["job"] == "arrears-enforcement" and r["summary"]["stopped"]]
    assert stops[0]["at"] == "2026-06-02T02:15:00Z" and stops[0]["summary"]["stopped"] == 2
    for app_id in (sid, dev):
        app = api.ok("GET", f"/v1/apps/{app_id}")
        assert app["status"] == "stopped" and app["stop_reason"] == "arrears"
        assert app["stopped_at"] == "2026-06-02T02:15:00Z"
    topup = api.ok("POST", "/v1/accounts/acme/topups", {"amount": "30.00", "kind": "cash"})
    assert topup["balance"]["total"] == "4.82"
    account = api.ok("GET", "/v1/accounts/acme")
    assert account["status"] == "active" and account["arrears_since"] is None
    for app_id in (sid, dev):
        app = api.ok("GET", f"/v1/apps/{app_id}")
        assert app["status"] == "enabled" and app["stop_reason"] is None
    assert api.ledger_sum() == ("4.82", "0.00")
    # a later run of the job finds nothing more to do
    result = api.clock("2026-06-02T05:00:00Z", run_jobs=True)
    assert not [r for r in result["jobs_run"] if r["job"] == "arrears-enforcement" and r["summary"]["stopped"]]


def test_arrears_stop_spares_apps_whose_package_ended(api):
    sid = api.paid_app("2026-04-01T00:00:00Z", "808.00", "standard", 2)  # valid until 2026-06-01T00:00Z
    put_month_usage(sid, "acme", "2026-05", mau=12_345)
    api.clock("2026-06-02T03:00:00Z", run_jobs=True)
    app = api.ok("GET", f"/v1/apps/{sid}")
    assert app["status"] == "stopped"
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "100.00", "kind": "cash"})
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "stopped"  # package no longer valid


def test_top_up_that_leaves_balance_negative_keeps_arrears(api):
    api.clock("2026-05-01T00:00:00Z")
    api.account("acme")
    sid = api.app()
    app = AppModel.get(sid)
    app.edition = "standard"
    app.save()
    put_month_usage(sid, "acme", "2026-05", mau=12_345)
    api.clock("2026-06-01T03:00:00Z", run_jobs=True)
    assert api.balance()["total"] == "-35.18"
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "35.00", "kind": "cash"})
    assert api.ok("GET", "/v1/accounts/acme")["status"] == "arrears"
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "0.18", "kind": "gift"})
    assert api.ok("GET", "/v1/accounts/acme")["status"] == "active"


def test_example_7_daily_push_bill(api):
    api.clock("2026-05-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    sid = api.app()
    api.ok("POST", f"/v1/apps/{sid}/plugins", {"plugin": "push", "months": 1})
    api.clock("2026-05-09T12:00:00Z", run_jobs=True)
    assert api.ok("PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 150}) == {
        "daily_broadcast_calls": 150}
    api.clock("2026-05-10T12:00:00Z", run_jobs=True)
    push = api.ok("POST", "/v1/usage/push", {"sdkappid": sid, "broadcast_calls": 160, "messages": 0},
                  expect=200, role="service")
    assert (push["date"], push["quota"], push["accepted_calls"], push["rejected_calls"]) == (
        "2026-05-10", 150, 150, 10)
    api.clock("2026-05-11T01:00:00Z", run_jobs=True)
    daily = bills(api, period="2026-05-10")
    assert len(daily) == 1
    (line,) = daily[0]["lines"]
    assert (line["item"], line["quantity"], line["unit_price"], line["amount"]) == ("push_api_quota", 50, "10.00",
                                                                                   "500.00")
    assert daily[0]["posted_at"] == "2026-05-11T00:30:00Z"
    # May 9: quota 150 from 12:00 -> billed too (highest in force that day); before: 100 -> nothing
    assert [b["period"] for b in bills(api) if b["kind"] == "daily"] == ["2026-05-09", "2026-05-10"]
    # back to 100: the day of the change still bills 150 (in force part of the day), then nothing
    api.ok("PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 100})
    api.clock("2026-05-14T01:00:00Z", run_jobs=True)
    assert [b["period"] for b in bills(api) if b["kind"] == "daily"] == ["2026-05-09", "2026-05-10", "2026-05-11"]
    assert api.balance()["total"] == f"{1000 - 299 - 3 * 500:.2f}"


def test_account_without_usage_gets_no_bill(api):
    sid = api.paid_app("2026-05-01T00:00:00Z", "1000.00")
    put_month_usage(sid, "acme", "2026-05", mau=9_000)  # under the free 10,000
    result = api.clock("2026-06-04T00:00:00Z", run_jobs=True)
    assert bills(api) == []
    runs = [r for r in result["jobs_run"] if r["job"] == "monthly-settlement" and r["at"] >= "2026-06"]
    assert runs == []  # a run that found nothing to charge did not act: counted in idle_runs


@pytest.fixture
def billing_tz():
    return "UTC"
