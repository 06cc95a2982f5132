"""Usage through the API (api-contract: Usage, GET /v1/apps/{id}/usage, Entitlements; billing-rules
section 6): exact MAU, the Developer cap, the local month of a login, refusals, push quota,
search counters, who may report and read, and reclamation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.store.dynamodb.models import AppModel, QuotaChangeMap


def login(api, sid, user_ids, at=None, role="service", **kw):
    body = {"sdkappid": sid, "user_ids": user_ids}
    if at is not None:
        body["at"] = at
    return api.call("POST", "/v1/usage/logins", body, role=role, **kw)


def usage_of(api, sid, month=None, role="customer", account="acme"):
    path = f"/v1/apps/{sid}/usage" + (f"?month={month}" if month else "")
    return api.ok("GET", path, role=role, account=account)


@pytest.fixture
def sid(api):
    api.clock("2026-05-20T10:00:00Z")
    api.account("acme", cash="1000.00")
    return api.app("acme")


def test_logins_count_distinct_users_and_repeats_change_nothing(api, sid):
    r = login(api, sid, ["alice", "bob", "alice"])
    assert (r.status, r.body) == (200, {"month": "2026-05", "mau": 2, "accepted": 2, "rejected_user_ids": []})
    again = login(api, sid, ["bob", "alice"], at="2026-05-01T00:00:00Z", role="operator")
    assert (again.status, again.body) == (200, r.body)
    assert login(api, sid, ["carol"]).body["mau"] == 3

    u = usage_of(api, sid)
    assert u == {
        "sdkappid": sid, "month": "2026-05", "mau": 3,
        "push": {"messages": 0, "broadcast_calls_today": 0, "daily_quota": 0, "broadcast_calls_by_day": {}},
        "search": {"stored_messages": 0, "requests": 0},
    }
    assert usage_of(api, sid, "2026-04")["mau"] == 0
    ent = api.ok("GET", f"/v1/apps/{sid}/entitlements", role="service")
    assert ent["mau"] == {"month": "2026-05", "used": 3, "free": 100, "overage_allowed": False}


def test_developer_refuses_the_101st_user_of_the_month_and_keeps_known_users(api, sid):
    first = login(api, sid, [f"u{i}" for i in range(100)]).body
    assert (first["mau"], first["accepted"], first["rejected_user_ids"]) == (100, 100, [])
    late = login(api, sid, ["u7", "newcomer", "u99"]).body
    assert late == {"month": "2026-05", "mau": 100, "accepted": 2, "rejected_user_ids": ["newcomer"]}

    api.buy(sid, "standard")  # Standard has MAU overage: nobody is refused any more
    assert login(api, sid, ["newcomer"]).body == {"month": "2026-05", "mau": 101, "accepted": 1,
                                                  "rejected_user_ids": []}


@pytest.mark.parametrize(("billing_tz", "june_login_month"), [("Asia/Shanghai", "2026-06"), ("UTC", "2026-05")])
def test_a_login_belongs_to_the_local_month_of_its_instant(api, billing_tz, june_login_month):
    api.clock("2026-06-01T00:00:00Z")
    api.account("acme")
    sid = api.app("acme")
    assert login(api, sid, ["x"], at="2026-05-31T17:00:00Z").body["month"] == june_login_month  # 01:00 in Shanghai
    assert login(api, sid, ["y"], at="2026-05-31T15:59:59Z").body["month"] == "2026-05"  # 23:59:59 in Shanghai
    if billing_tz == "Asia/Shanghai":
        assert (usage_of(api, sid)["month"], usage_of(api, sid)["mau"]) == ("2026-06", 1)
        assert usage_of(api, sid, "2026-05")["mau"] == 1
    else:
        assert (usage_of(api, sid)["month"], usage_of(api, sid)["mau"]) == ("2026-06", 0)
        assert usage_of(api, sid, "2026-05")["mau"] == 2


def test_a_report_may_not_lie_in_the_future(api, sid):
    for path, body in (
        ("/v1/usage/logins", {"user_ids": ["a"]}),
        ("/v1/usage/push", {"broadcast_calls": 0, "messages": 1}),
        ("/v1/usage/search", {"stored_messages": 1, "requests": 1}),
    ):
        r = api.call("POST", path, {"sdkappid": sid, "at": "2026-05-20T10:00:01Z", **body}, role="service")
        assert (r.status, r.code) == (400, "invalid_request"), path
    assert usage_of(api, sid)["mau"] == 0


@pytest.mark.parametrize("body", [
    {"user_ids": []},
    {"user_ids": [f"u{i}" for i in range(1001)]},
    {"user_ids": [""]},
    {"user_ids": ["x" * 129]},
    {"user_ids": "alice"},
    {"user_ids": [1]},
    {"user_ids": ["a"], "at": "2026-05-01T00:00:00"},
    {"user_ids": ["a"], "at": "yesterday"},
    {"user_ids": ["a"], "sdkappid": "1400000001"},
    {},
])
def test_invalid_login_reports_are_400(api, sid, body):
    r = api.call("POST", "/v1/usage/logins", {"sdkappid": sid, **body}, role="service")
    assert (r.status, r.code) == (400, "invalid_request"), r.body


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/usage/push", {"broadcast_calls": -1, "messages": 0}),
    ("/v1/usage/push", {"broadcast_calls": 1, "messages": 1.5}),
    ("/v1/usage/push", {"broadcast_calls": "1", "messages": 0}),
    ("/v1/usage/push", {"messages": 0}),
    ("/v1/usage/search", {"stored_messages": 1, "requests": -5}),
    ("/v1/usage/search", {"stored_messages": True, "requests": 0}),
])
def test_invalid_counts_are_400(api, sid, path, body):
    r = api.call("POST", path, {"sdkappid": sid, **body}, role="service")
    assert (r.status, r.code) == (400, "invalid_request"), r.body


def test_unknown_app_is_404(api, sid):
    assert login(api, 1_399_999_999, ["a"]).status == 404


def test_only_the_service_and_operators_report_usage_and_a_customer_reads_only_its_own(api, sid):
    assert login(api, sid, ["a"], role="customer", account="acme").status == 403
    assert login(api, sid, ["a"], role=None).status == 401
    assert login(api, sid, ["a"]).status == 200
    assert usage_of(api, sid, role="operator")["mau"] == 1
    api.account("other")
    assert api.call("GET", f"/v1/apps/{sid}/usage", role="customer", account="other").status == 404
    assert api.call("GET", f"/v1/apps/{sid}/usage", role="service").status == 403
    r = api.call("GET", f"/v1/apps/{sid}/usage?month=2026-5", role="customer", account="acme")
    assert (r.status, r.code) == (400, "invalid_request")


def test_an_app_not_in_service_refuses_logins_and_a_reclaimed_one_is_gone(api, sid):
    api.buy(sid, "standard")
    login(api, sid, ["a", "b"])
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})  # base package refunded: disabled
    r = login(api, sid, ["a"])
    assert (r.status, r.code) == (409, "not_in_service")
    push = api.call("POST", "/v1/usage/push", {"sdkappid": sid, "broadcast_calls": 1, "messages": 1}, role="service")
    assert (push.status, push.code) == (409, "not_in_service")
    assert usage_of(api, sid)["mau"] == 2

    api.ok("DELETE", f"/v1/apps/{sid}", expect=200)  # reclaimed at once: usage deleted
    assert usage_of(api, sid)["mau"] == 0
    r = login(api, sid, ["a"])
    assert (r.status, r.code) == (410, "gone")
    search = api.call("POST", "/v1/usage/search", {"sdkappid": sid, "stored_messages": 1, "requests": 1},
                      role="service")
    assert (search.status, search.code) == (410, "gone")


def test_push_calls_above_the_days_quota_are_refused(api, sid):
    # the push plugin's state, as the plugins endpoint keeps it: quota 120 since May 1, paid to June 1
    AppModel(sid).update(actions=[
        AppModel.push_quota_log.set([QuotaChangeMap(at=datetime(2026, 5, 1, tzinfo=UTC), quota=120)]),
        AppModel.push_quota.set(120),
        AppModel.legacy_push_until.set(datetime(2026, 6, 1, tzinfo=UTC)),
    ])

    def push(calls, messages, at=None):
        body = {"sdkappid": sid, "broadcast_calls": calls, "messages": messages, **({"at": at} if at else {})}
        return api.ok("POST", "/v1/usage/push", body, expect=200, role="service")

    assert push(100, 2_000_000) == {"date": "2026-05-20", "quota": 120, "accepted_calls": 100, "rejected_calls": 0,
                                    "messages_month": 2_000_000}
    assert push(30, 5) == {"date": "2026-05-20", "quota": 120, "accepted_calls": 20, "rejected_calls": 10,
                           "messages_month": 2_000_005}
    assert push(1, 0)["rejected_calls"] == 1
    assert push(3, 0, at="2026-05-19T23:59:59Z")["accepted_calls"] == 3  # another day
    assert push(1, 0, at="2026-04-30T12:00:00Z")["quota"] == 0  # before the plugin
    u = usage_of(api, sid)
    assert u["push"] == {"messages": 2_000_005, "broadcast_calls_today": 120, "daily_quota": 120,
                         "broadcast_calls_by_day": {"2026-05-19": 3, "2026-05-20": 120}}


def test_search_counters_add_up_in_the_month(api, sid):
    def search(stored, requests):
        body = {"sdkappid": sid, "stored_messages": stored, "requests": requests}
        return api.ok("POST", "/v1/usage/search", body, expect=200, role="service")

    assert search(1_500_000, 300_000) == {"month": "2026-05", "stored_messages": 1_500_000, "requests": 300_000}
    assert search(60_001, 10_000) == {"month": "2026-05", "stored_messages": 1_560_001, "requests": 310_000}
    assert usage_of(api, sid)["search"] == {"stored_messages": 1_560_001, "requests": 310_000}


def test_the_openapi_document_lists_the_usage_paths(api):
    doc = api.ok("GET", "/v1/openapi.json", role=None)
    for path in ("/v1/usage/logins", "/v1/usage/push", "/v1/usage/search"):
        assert "post" in doc["paths"][path]
    assert "get" in doc["paths"]["/v1/apps/{sdkappid}/usage"]
    assert "user_ids" in doc["components"]["schemas"]["LoginReport"]["properties"]


def test_search_of_a_settled_month_is_refused_with_period_closed_and_changes_nothing(api, sid):
    """billing-rules 6, a billed period is closed: May's report at its last second is billed when it
    arrives before the settlement, refused (409 period_closed) after it (issue 7: November's was
    accepted and never billed)."""
    body = {"sdkappid": sid, "stored_messages": 1_560_001, "requests": 0, "at": "2026-05-31T23:59:59Z"}
    api.clock("2026-06-01T01:00:00Z")
    assert api.ok("POST", "/v1/usage/search", body, expect=200, role="service")["month"] == "2026-05"
    api.clock("2026-06-01T03:00:00Z", run_jobs=True)  # the settlement of May ran at 02:00
    (bill,) = [b for b in api.ok("GET", "/v1/accounts/acme/bills")["items"] if b["period"] == "2026-05"]
    assert (bill["total"], [line["item"] for line in bill["lines"]]) == ("12.00", ["search_storage_overage"])
    before = usage_of(api, sid, "2026-05")

    late = api.call("POST", "/v1/usage/search", {**body, "stored_messages": 30_000}, role="service")
    assert late.status == 409 and late.body["error"]["code"] == "period_closed"
    assert "2026-05" in late.body["error"]["message"]
    refused_login = login(api, sid, ["late-user"], at="2026-05-31T23:59:59Z")
    assert (refused_login.status, refused_login.code) == (409, "period_closed")
    api.clock("2026-06-04T03:00:00Z", run_jobs=True)  # the reruns of June 2 and 3
    assert usage_of(api, sid, "2026-05") == before
    assert [b for b in api.ok("GET", "/v1/accounts/acme/bills")["items"] if b["period"] == "2026-05"] == [bill]
    doc = api.ok("GET", "/v1/openapi.json", role=None)
    for path in ("/v1/usage/logins", "/v1/usage/push", "/v1/usage/search"):
        assert "period_closed" in doc["paths"][path]["post"]["responses"]["409"]["description"]
