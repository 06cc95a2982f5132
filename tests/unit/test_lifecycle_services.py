"""Lifecycle use cases (expiry warnings, stop on expiry, auto-renew, the arrears stop and its end) on the
in-memory unit of work: what the jobs do to one app, without AWS. The jobs themselves, on DynamoDB, are
in tests/integration/test_jobs.py and tests/scenarios."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from chalicelib.api.accounts import account_created, topped_up
from chalicelib.api.apps import app_created, bought
from chalicelib.notify import LocalNotifier
from chalicelib.services import accounts, apps, billing, lifecycle, purchases
from chalicelib.services.context import Ctx
from chalicelib.services.idempotency import NONE
from chalicelib.store.dynamodb.models import AccountModel, AppModel, NotificationModel
from tests.composed import make_ctx
from tests.fakes.uow import FakeStore, FakeUnitOfWork

UTC_TZ = ZoneInfo("UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ctx_at(tables: FakeStore, when: str) -> Ctx:
    return make_ctx(now=at(when), tz=UTC_TZ, uow=tables.uow)


def standard_app(tables: FakeStore, cash: int, auto_renew: bool = False) -> int:
    """acme with `cash`, and an app on Standard bought 2026-08-20T10:00Z for a month (expires 09-20)."""
    ctx = ctx_at(tables, "2026-08-01T00:00:00")
    accounts.create_account(ctx, "acme", "a@x.test", "+1555", NONE, account_created)
    accounts.topup(ctx, "acme", cash, "cash", NONE, topped_up)
    sid = int(apps.create_app(ctx, "acme", "chat", "us", NONE, app_created)[1]["sdkappid"])
    purchases.purchase(ctx_at(tables, "2026-08-20T10:00:00"), sid, "standard", 1, auto_renew, None, NONE, bought)
    return sid


def app_of(tables: FakeStore, sid: int) -> AppModel:
    found = FakeUnitOfWork(tables).apps.get(sid)
    assert found is not None
    return found


def account(tables: FakeStore) -> AccountModel:
    found = FakeUnitOfWork(tables).accounts.get("acme")
    assert found is not None
    return found


def outbox(tables: FakeStore) -> list[NotificationModel]:
    return FakeUnitOfWork(tables).notifications.page("acme", 100, None).items


def test_one_warning_a_day_is_recorded_sent_and_marked(tables: FakeStore, notifier: LocalNotifier) -> None:
    sid = standard_app(tables, 39_900)
    assert lifecycle.warn(ctx_at(tables, "2026-09-14T00:00:00"), app_of(tables, sid)) == "warned"  # E-6
    assert lifecycle.warn(ctx_at(tables, "2026-09-14T08:00:00"), app_of(tables, sid)) == "skipped"  # same day
    assert [kind for kind, _, _ in notifier.sent] == ["email", "sms"]
    assert [(n.kind, n.channel, n.status) for n in outbox(tables)] == [
        ("expiry_warning", "email", "sent"), ("expiry_warning", "sms", "sent")]
    assert app_of(tables, sid).last_warned_day == "2026-09-14"


def test_an_app_not_renewed_is_stopped_24_hours_after_expiry_and_its_owner_told(
        tables: FakeStore, notifier: LocalNotifier) -> None:
    sid = standard_app(tables, 39_900)
    assert lifecycle.enforce(ctx_at(tables, "2026-09-21T09:59:59"), app_of(tables, sid)) == "skipped"
    assert lifecycle.enforce(ctx_at(tables, "2026-09-21T10:00:00"), app_of(tables, sid)) == "stopped"
    app = app_of(tables, sid)
    assert (app.status, app.stop_reason, app.stopped_at) == ("stopped", "expired", at("2026-09-21T10:00:00"))
    assert app.reclaim_due_at == at("2026-12-20T10:00:00")  # the dues were recomputed: 90 days on
    assert [n.kind for n in outbox(tables)] == ["stopped", "stopped"] and len(notifier.sent) == 2


def test_auto_renew_at_expiry_buys_one_month_from_the_old_expiry(tables: FakeStore, notifier: LocalNotifier) -> None:
    sid = standard_app(tables, 79_800, auto_renew=True)
    assert lifecycle.enforce(ctx_at(tables, "2026-09-20T10:00:00"), app_of(tables, sid)) == "renewed"
    renewal = FakeUnitOfWork(tables).orders.of_app(sid)[-1]
    assert (renewal.kind, renewal.starts_at, renewal.ends_at, int(renewal.paid_cash)) == (
        "auto_renewal", at("2026-09-20T10:00:00"), at("2026-10-20T10:00:00"), 39_900)
    assert app_of(tables, sid).expires_at == at("2026-10-20T10:00:00") and int(account(tables).cash) == 0


def test_auto_renew_without_the_balance_is_retried_on_every_run_of_the_grace(
        tables: FakeStore, notifier: LocalNotifier) -> None:
    sid = standard_app(tables, 39_900 + 39_899, auto_renew=True)
    assert lifecycle.enforce(ctx_at(tables, "2026-09-20T10:00:00"), app_of(tables, sid)) == "renew_failed"
    assert len(FakeUnitOfWork(tables).orders.of_app(sid)) == 1 and int(account(tables).cash) == 39_899
    assert lifecycle.enforce(ctx_at(tables, "2026-09-20T11:00:00"), app_of(tables, sid)) == "renew_failed"
    accounts.topup(ctx_at(tables, "2026-09-21T09:00:00"), "acme", 1, "gift", NONE, topped_up)
    assert lifecycle.enforce(ctx_at(tables, "2026-09-21T09:05:00"), app_of(tables, sid)) == "renewed"
    renewal = FakeUnitOfWork(tables).orders.of_app(sid)[-1]
    assert (renewal.starts_at, renewal.ends_at) == (at("2026-09-20T10:00:00"), at("2026-10-20T10:00:00"))
    assert (int(renewal.paid_cash), int(renewal.paid_gift)) == (39_899, 1)
    assert app_of(tables, sid).status == "enabled"


def test_an_arrears_stop_ends_with_the_top_up_that_clears_the_balance(
        tables: FakeStore, notifier: LocalNotifier) -> None:
    sid = standard_app(tables, 39_900)
    with FakeUnitOfWork(tables) as u:  # a bill left the balance below zero
        acct = u.accounts.get("acme")
        assert acct is not None
        acct.cash, acct.status, acct.arrears_since = -2_518, "arrears", at("2026-09-01T02:00:00")
        acct.arrears_due_at = at("2026-09-02T02:00:00")
        u.accounts.save(acct)
        u.commit()
    assert billing.enforce_arrears(ctx_at(tables, "2026-09-02T01:59:59"), account(tables)) == {}
    assert billing.enforce_arrears(ctx_at(tables, "2026-09-02T02:00:00"), account(tables)) == {
        "accounts": 1, "stopped": 1}
    app = app_of(tables, sid)
    assert (app.status, app.stop_reason, account(tables).arrears_due_at) == ("stopped", "arrears", None)
    assert [n.kind for n in outbox(tables)] == ["stopped", "stopped"] and len(notifier.sent) == 2
    accounts.topup(ctx_at(tables, "2026-09-03T00:00:00"), "acme", 3_000, "cash", NONE, topped_up)
    assert (app_of(tables, sid).status, account(tables).status, int(account(tables).cash)) == (
        "enabled", "active", 482)
