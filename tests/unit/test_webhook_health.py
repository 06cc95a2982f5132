"""Back-off over 3 days, then `failed`; an endpoint failing for 3 days is disabled, its account
notified and a `webhook.disabled` event written, in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.integrations import webhook_http
from chalicelib.services import webhooks
from chalicelib.services.context import Principal
from chalicelib.services.idempotency import NONE
from chalicelib.store.dynamodb.models import AccountModel, DeliveryModel, EventModel, NotificationModel
from tests.composed import job_ctx, make_ctx
from tests.fakes.uow import FakeStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FAILING = webhooks.Sender(check=lambda url: webhook_http.check_url(url, True),
                          post=lambda *a: webhook_http.Answer(500, "no", None, 0.01), wall=lambda: 1_700_000_000.0)


def test_backoff_doubles_from_30_s_to_at_most_6_hours() -> None:
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3, 10, 11, 20)] == [30, 60, 120, 15360, 6 * 3600,
                                                                                  6 * 3600]


def test_an_endpoint_failing_for_3_days_is_disabled_and_its_account_notified(notifier, tables: FakeStore) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(now=T0, tz=ZoneInfo("UTC"), principal=Principal("customer", "acme", "acme"), uow=tables.uow)
    with tables.uow() as u:
        u.accounts.add(AccountModel("acme", email="a@x.test", phone="+15550100", due_shard="0", created_at=T0))
        u.commit()
    webhooks.create(ctx, "acme", "http://127.0.0.1:9/hook", ["*"], NONE, lambda w: (201, {}))
    (hook,) = tables.uow().webhooks.of_owner("acme")
    d = DeliveryModel(hook.webhook_id, "ev1", event_type="account.created", body="{}", status="pending",
                      attempts=0, created_at=T0, due_shard="0", next_attempt_at=T0)
    with tables.uow() as u:
        u.deliveries.add(d)
        u.commit()

    now, attempts = T0, 0
    while True:
        out = webhooks.deliver_due(job_ctx("event-feed", now, ZoneInfo("UTC")), FAILING)
        attempts += sum(out.values())
        stored = tables.uow().deliveries.get(hook.webhook_id, "ev1")
        if stored.status != "pending":
            break
        now = stored.next_attempt_at
    assert stored.status == "failed" and int(stored.attempts) == attempts == 22
    assert now - T0 >= timedelta(days=3) and stored.last_status == 500 and stored.last_response == "no"
    endpoint = tables.uow().webhooks.get(hook.webhook_id)
    assert endpoint.status == "disabled"
    kinds = [EventModel.from_raw_data(r).type for r in tables.table(EventModel).values()]
    assert sorted(kinds) == ["webhook.created", "webhook.disabled"]
    notes = [NotificationModel.from_raw_data(r) for r in tables.table(NotificationModel).values()]
    assert {(n.kind, n.channel) for n in notes} == {("webhook_disabled", "email"), ("webhook_disabled", "sms")}
    assert ("email", "a@x.test", f"Webhook {hook.webhook_id} disabled") in notifier.sent  # sent after the commit


def test_a_delivery_clears_the_failing_streak(tables: FakeStore) -> None:
    ctx = make_ctx(now=T0, tz=ZoneInfo("UTC"), principal=Principal("operator", sub="ada"), uow=tables.uow)
    webhooks.create(ctx, None, "http://127.0.0.1:9/hook", ["*"], NONE, lambda w: (201, {}))
    (hook,) = tables.uow().webhooks.of_owner("*")
    for i, status in enumerate((500, 200)):
        d = DeliveryModel(hook.webhook_id, f"ev{i}", event_type="account.created", body="{}", status="pending",
                          attempts=0, created_at=T0, due_shard="0", next_attempt_at=T0)
        with tables.uow() as u:
            u.deliveries.add(d)
            u.commit()
        sender = webhooks.Sender(check=lambda url: webhook_http.check_url(url, True),
                                 post=lambda *a, s=status: webhook_http.Answer(s, "", None, 0.01))
        webhooks.attempt(ctx, d, sender)
        assert (tables.uow().webhooks.get(hook.webhook_id).failing_since is None) is (status == 200)
