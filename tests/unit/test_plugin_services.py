"""Plugin and add-on use cases (buy, renew, the push quota, what is in force) on the in-memory unit of
work: the rules of services/plugins.py without AWS. The same through the API and DynamoDB is in
tests/api/test_plugins.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.api.apps import bought
from chalicelib.api.plugins import quota_set
from chalicelib.domain.errors import Conflict, InsufficientBalanceError, InvalidRequest
from chalicelib.services import plugins
from chalicelib.services.idempotency import NONE, Idem, Response
from chalicelib.store.dynamodb.models import due_shard
from tests.fakes.uow import FakeStore, FakeUnitOfWork
from tests.unit.test_purchase_services import account, at, ctx_at, ledger, new_app, orders, stored_app


def buy_plugin(tables: FakeStore, when: str, sid: int, name: str = "push", months: int = 1,
               idem: Idem = NONE) -> Response:
    return plugins.buy_plugin(ctx_at(tables, at(when)), sid, name, months, idem, bought)


def set_quota(tables: FakeStore, when: str, sid: int, calls: int) -> Response:
    return plugins.set_push_quota(ctx_at(tables, at(when)), sid, calls, lambda app: quota_set(calls))


def test_a_plugin_is_paid_from_cash_runs_to_day_t_next_month_and_grants_the_included_quota(tables):
    sid = new_app(tables, at("2026-03-10T14:00:00"), cash=100000)
    status, body = buy_plugin(tables, "2026-03-10T14:00:00", sid)
    assert status == 201
    o = body["order"]
    assert (o["product"], o["kind"], o["price"], o["starts_at"], o["ends_at"]) == (
        "push", "new", "299.00", "2026-03-10T14:00:00Z", "2026-04-10T00:00:00Z")
    assert body["balance"] == {"cash": "701.00", "gift": "0.00", "total": "701.00"} and body["credit"] is None
    assert (int(account(tables).cash), int(account(tables).gift)) == (70100, 0)
    assert [(e.kind, int(e.cash), int(e.gift)) for e in ledger(tables)] == [
        ("topup", 100000, 0), ("purchase", -29900, 0)]
    app = stored_app(tables, sid)
    assert app.until("push") == datetime(2026, 4, 10, tzinfo=UTC)
    assert app.push_quota == 100 and app.push_billing_shard is None
    assert [(c.at, int(c.quota)) for c in app.push_quota_log] == [(at("2026-03-10T14:00:00"), 100)]


def test_a_renewal_appends_after_the_plugin_in_force(tables):
    sid = new_app(tables, at("2026-03-10T14:00:00"), cash=100000)
    buy_plugin(tables, "2026-03-10T14:00:00", sid)
    o = buy_plugin(tables, "2026-03-15T09:30:00", sid, months=2)[1]["order"]
    assert (o["kind"], o["starts_at"], o["ends_at"], o["price"]) == (
        "renewal", "2026-04-10T00:00:00Z", "2026-06-10T00:00:00Z", "598.00")
    assert stored_app(tables, sid).until("push") == datetime(2026, 6, 10, tzinfo=UTC)
    assert int(account(tables).cash) == 100000 - 29900 - 59800
    # the renewal keeps the quota log: the included quota was granted once
    assert [(c.at, int(c.quota)) for c in stored_app(tables, sid).push_quota_log] == [(at("2026-03-10T14:00:00"), 100)]


def test_a_retried_key_answers_the_first_purchase_and_charges_once(tables):
    sid = new_app(tables, at("2026-03-10T14:00:00"), cash=100000)
    idem = Idem.of("k1", f"plugin:{sid}", {"plugin": "search", "months": 1})
    first = buy_plugin(tables, "2026-03-10T14:00:00", sid, "search", idem=idem)
    again = buy_plugin(tables, "2026-03-10T14:05:00", sid, "search", idem=idem)
    assert again == first and first[1]["order"]["price"] == "399.00"
    assert len(orders(tables, sid)) == 1 and int(account(tables).cash) == 100000 - 39900


def test_a_plugin_the_balance_does_not_cover_writes_nothing(tables):
    sid = new_app(tables, at("2026-03-10T14:00:00"), cash=29899)
    version = int(stored_app(tables, sid).version)
    with pytest.raises(InsufficientBalanceError):
        buy_plugin(tables, "2026-03-10T14:00:00", sid)
    assert orders(tables, sid) == [] and int(account(tables).cash) == 29899
    assert int(stored_app(tables, sid).version) == version and stored_app(tables, sid).until("push") is None


def test_the_call_trial_is_free_and_once_per_app(tables):
    sid = new_app(tables, at("2026-03-10T14:00:00"), cash=100000)
    ctx = ctx_at(tables, at("2026-03-10T14:00:00"))
    o = plugins.buy_addon(ctx, sid, "call", "trial", None, 1, NONE, bought)[1]["order"]
    assert (o["price"], o["starts_at"], o["ends_at"]) == ("0.00", "2026-03-10T14:00:00Z", "2026-03-17T14:00:00Z")
    assert stored_app(tables, sid).used_once("call", "trial")
    with pytest.raises(Conflict):
        plugins.buy_addon(ctx_at(tables, at("2026-04-01T00:00:00")), sid, "call", "trial", None, 1, NONE, bought)
    assert len(orders(tables, sid)) == 1 and int(account(tables).cash) == 100000


def test_the_push_quota_needs_the_plugin_and_at_least_the_included_100(tables):
    sid = new_app(tables, at("2026-03-10T14:00:00"), cash=100000)
    with pytest.raises(InvalidRequest):
        set_quota(tables, "2026-03-10T14:00:00", sid, 99)
    with pytest.raises(Conflict):
        set_quota(tables, "2026-03-10T14:00:00", sid, 150)
    buy_plugin(tables, "2026-03-10T14:00:00", sid)
    assert set_quota(tables, "2026-03-11T08:00:00", sid, 150) == (200, {"daily_broadcast_calls": 150})
    app = stored_app(tables, sid)
    assert app.push_quota == 150 and app.push_billing_shard == due_shard(sid)
    assert [(c.at, int(c.quota)) for c in app.push_quota_log] == [
        (at("2026-03-10T14:00:00"), 100), (at("2026-03-11T08:00:00"), 150)]
    now_in_force, addons = plugins.in_force(ctx_at(tables, at("2026-03-12T00:00:00")), app)
    assert now_in_force["push"]["daily_broadcast_calls"] == 150 and addons == {}
    # back to 100: the app stays in the push-billing index (the billing job takes it out)
    set_quota(tables, "2026-03-12T08:00:00", sid, 100)
    assert stored_app(tables, sid).push_billing_shard == due_shard(sid)


def test_what_is_in_force_leaves_out_ended_and_refunded_orders(tables):
    sid = new_app(tables, at("2026-03-10T14:00:00"), cash=200000)
    buy_plugin(tables, "2026-03-10T14:00:00", sid, "search")
    ctx = ctx_at(tables, at("2026-03-10T14:00:00"))
    plugins.buy_addon(ctx, sid, "desk", "standard", 5, 1, NONE, bought)
    app = stored_app(tables, sid)
    now_in_force, addons = plugins.in_force(ctx_at(tables, at("2026-03-20T00:00:00")), app)
    assert set(now_in_force) == {"search"} and set(addons) == {"desk"}
    assert plugins.in_force(ctx_at(tables, at("2026-04-10T00:00:00")), app) == ({}, {})
    assert FakeUnitOfWork(tables).orders.unended(sid, at("2026-04-10T00:00:00")) == []
