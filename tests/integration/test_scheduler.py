"""The local scheduler fires each job at its cron instants between its mark and the clock's now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.api.apps import app_created, bought
from chalicelib.jobs import scheduler
from chalicelib.jobs.registry import Schedule
from chalicelib.services import apps, purchases
from chalicelib.services.idempotency import NONE
from chalicelib.store.dynamodb.models import AccountModel, AppModel, NotificationModel, due_shard
from tests.composed import contexts, make_ctx


def test_schedule_instants_follow_the_contract_crons():
    start = datetime(2026, 5, 31, 23, 0, tzinfo=UTC)
    settle = list(Schedule(minute=0, hour=2, days=(1, 2, 3)).instants(start, start + timedelta(days=5)))
    assert [t.day for t in settle] == [1, 2, 3]
    hourly = list(Schedule(minute=5).instants(start, start + timedelta(hours=3)))
    assert [t.strftime("%H:%M") for t in hourly] == ["23:05", "00:05", "01:05"]
    assert Schedule(minute=15).aws_cron == "cron(15 * * * ? *)"


def test_the_deployed_schedules_are_the_registry_crons_even_for_days_not_in_a_row():
    """app.py schedules each job on Schedule.aws_cron: days that do not run in a row are listed,
    not spanned by min-max (1-15 would fire on 13 days the job does not run on)."""
    from chalice import Chalice

    import app as module
    from chalicelib.jobs.registry import Job
    from chalicelib.jobs.runner import load_jobs

    odd = Schedule(minute=0, hour=2, days=(15, 1, 2, 3, 28))
    assert odd.aws_cron == "cron(0 2 1-3,15,28 * ? *)"
    assert Schedule(minute=0, hour=2, days=(1, 15)).aws_cron == "cron(0 2 1,15 * ? *)"
    chalice = Chalice("t")
    handlers = module.wire_schedules(chalice, [Job("odd-days", odd, lambda ctx, at: {})])
    assert list(handlers) == ["odd_days"]
    assert [(e.name, e.schedule_expression) for e in chalice.event_sources] == [("odd_days", odd.aws_cron)]
    deployed = {e.name: e.schedule_expression for e in module.app.event_sources if hasattr(e, "schedule_expression")}
    assert deployed == {j.name.replace("-", "_"): j.schedule.aws_cron for j in load_jobs().values()}
    assert deployed["monthly_settlement"] == "cron(0 2 1-3 * ? *)"


def test_scheduler_tick_runs_due_jobs_once_and_keeps_its_mark(store):
    tz = ZoneInfo("UTC")
    t0 = datetime(2026, 7, 20, 10, 0, tzinfo=UTC)
    ctx = make_ctx(now=t0, tz=tz)
    AccountModel("acme", email="a@x.test", phone="+1555", due_shard=due_shard("acme"), created_at=t0,
                 cash=39900).save()
    sid = apps.create_app(ctx, "acme", "chat", "us", NONE, app_created)[1]["sdkappid"]
    purchases.purchase(ctx, sid, "standard", 1, None, None, NONE, bought)
    assert scheduler.tick(t0, contexts(tz)) == 0  # first tick only sets the mark
    busy = scheduler.tick(datetime(2026, 8, 22, 0, 0, tzinfo=UTC), contexts(tz))
    assert busy == 8 + 1  # 8 warning days, 1 stop
    assert AppModel.get(sid).status == "stopped"
    notes = list(NotificationModel.query("acme"))
    assert len(notes) == 18
    assert scheduler.tick(datetime(2026, 8, 22, 0, 0, tzinfo=UTC), contexts(tz)) == 0
    assert len(list(NotificationModel.query("acme"))) == 18
