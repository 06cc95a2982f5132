"""POST /v1/ops/notifications/retries: an operator sends a failed notification again (the dashboard's Retry)."""

from __future__ import annotations

from chalicelib.domain.calendar import parse_instant
from chalicelib.services.notifications import MAX_ATTEMPTS
from chalicelib.store.dynamodb.models import NotificationModel


def test_an_operator_retries_a_failed_notification(api):
    api.clock("2026-04-02T00:00:00Z")
    api.account("acme")
    NotificationModel("acme", "20260401T020000Z#bill#-#email", at=parse_instant("2026-04-01T02:00:00Z"), kind="bill",
                      channel="email", to="acme@x.test", subject="Monthly bill", body="b", status="failed",
                      attempts=MAX_ATTEMPTS, last_error="MessageRejected: no").save()
    body = {"account_id": "acme", "notification_id": "20260401T020000Z#bill#-#email"}
    assert api.call("POST", "/v1/ops/notifications/retries", body, role="customer", account="acme").status == 403
    out = api.ok("POST", "/v1/ops/notifications/retries", body, expect=200)
    assert (out["status"], out["attempts"], out["last_error"], out["sent_at"]) == (
        "sent", 1, None, "2026-04-02T00:00:00Z")
    again = api.call("POST", "/v1/ops/notifications/retries", body)
    assert (again.status, again.code) == (409, "conflict")
    assert api.call("POST", "/v1/ops/notifications/retries", {**body, "notification_id": "nope"}).status == 404
    assert api.call("POST", "/v1/ops/notifications/retries", {"account_id": "acme"}).status == 400
