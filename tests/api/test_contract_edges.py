"""Contract details an outside check depends on: status codes, the OpenAPI document, the outbox
order and its `bill` notices, and clear 400s for out-of-range input."""

from __future__ import annotations

import base64
import json

from openapi_spec_validator import validate


def test_the_openapi_document_is_valid_openapi_3(api):
    doc = api.ok("GET", "/v1/openapi.json", role=None)
    assert doc["openapi"].startswith("3.")
    validate(doc)  # raises on any schema error
    assert "/v1/apps/{sdkappid}/trial-extensions" in doc["paths"]


def test_trial_extension_and_job_runs_answer_200(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    sid = api.app()
    api.clock("2026-04-01T00:00:00Z")
    assert api.call("POST", f"/v1/apps/{sid}/trial-extensions").status == 200
    api.clock("2026-04-01T01:00:00Z")  # a job may not run ahead of the service clock (contract, issue 7)
    r = api.call("POST", "/v1/jobs/expiry-warnings/runs", {"at": "2026-04-01T01:00:00Z"})
    assert (r.status, r.body["job"], r.body["at"]) == (200, "expiry-warnings", "2026-04-01T01:00:00Z")


def test_notifications_are_listed_oldest_first(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    api.app(name="a")
    api.clock("2026-03-03T12:00:00Z")
    api.app(name="b")
    api.clock("2026-04-02T02:00:00Z", run_jobs=True)
    items = api.ok("GET", "/v1/accounts/acme/notifications?limit=1000")["items"]
    ats = [n["at"] for n in items]
    assert ats == sorted(ats) and len(ats) > 2
    # paging keeps the order
    first = api.ok("GET", "/v1/accounts/acme/notifications?limit=3")
    rest = api.ok("GET", f"/v1/accounts/acme/notifications?limit=1000&next_token={first['next_token']}")
    assert [n["notification_id"] for n in first["items"] + rest["items"]] == [n["notification_id"] for n in items]


def test_a_posted_bill_is_notified_by_email_and_sms(api):
    sid = api.paid_app("2026-05-01T00:00:00Z", "2000.00", "standard", 1, plugins=("push",))
    api.clock("2026-05-09T12:00:00Z")
    api.ok("PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 150})
    api.clock("2026-05-11T01:00:00Z", run_jobs=True)
    bills = [n for n in api.ok("GET", "/v1/accounts/acme/notifications?limit=1000")["items"] if n["kind"] == "bill"]
    assert [(n["channel"], n["subject"], n["at"]) for n in bills] == [
        ("email", "Daily bill 2026-05-09: 500.00", "2026-05-10T00:30:00Z"),  # the highest quota of the day
        ("sms", "Daily bill 2026-05-09: 500.00", "2026-05-10T00:30:00Z"),
        ("email", "Daily bill 2026-05-10: 500.00", "2026-05-11T00:30:00Z"),
        ("sms", "Daily bill 2026-05-10: 500.00", "2026-05-11T00:30:00Z"),
    ]
    assert "500.00 cash, 0.00 gift" in bills[2]["body"] and "push_api_quota x 50 = 500.00" in bills[2]["body"]


def test_bills_of_a_period_are_that_period_only(api):
    sid = api.paid_app("2026-05-01T00:00:00Z", "2000.00", "standard", 1, plugins=("push",))
    api.ok("PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 101})
    api.clock("2026-05-03T01:00:00Z", run_jobs=True)
    assert [b["period"] for b in api.ok("GET", "/v1/accounts/acme/bills")["items"]] == ["2026-05-01", "2026-05-02"]
    assert api.ok("GET", "/v1/accounts/acme/bills?period=2026-05")["items"] == []
    assert [b["period"] for b in api.ok("GET", "/v1/accounts/acme/bills?period=2026-05-02")["items"]] == [
        "2026-05-02"]


def test_out_of_range_input_is_a_400_not_a_500(api):
    sid = api.paid_app("2026-03-01T00:00:00Z", "399.00")
    bad = [
        api.call("POST", "/v1/jobs/push-quota-billing/runs", {"at": "0001-01-01T00:30:00Z"}),
        api.call("POST", "/v1/jobs/reclamation/runs", {"at": "9999-12-31T23:00:00Z"}),
        api.call("GET", f"/v1/apps/{sid}/usage?month=0000-01"),
        api.call("GET", "/v1/accounts/acme/bills?period=2026-99"),
        api.call("GET", "/v1/accounts/acme/bills?period=2026-02-30"),
        api.call("POST", f"/v1/apps/{sid}/refunds", {"product": "bogus"}),
        api.call("GET", f"/v1/apps/{sid}/refund-quote?product=bogus"),
    ]
    token = base64.urlsafe_b64encode(json.dumps({"sdkappid": {"N": "1"}, "order_id": {"S": "x"}}).encode()).decode()
    bad.append(api.call("GET", f"/v1/accounts/acme/ledger?next_token={token}"))
    assert [(r.status, r.code) for r in bad] == [(400, "invalid_request")] * len(bad), [r.body for r in bad]
