"""Jobs: idempotent per instant, resumable after a crash, and never scanning (requests counted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.jobs import runner
from chalicelib.services import lifecycle
from chalicelib.services.apps import refresh_dues
from chalicelib.store.dynamodb.models import AccountModel, AppModel, NotificationModel, due_shard
from tests.composed import contexts, make_ctx
from tests.helpers import Killed
from tests.integration.requests import count_requests

UTC_TZ = ZoneInfo("UTC")
E = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
BASE = 1_500_000_000

pytestmark = pytest.mark.storage  # also run on DynamoDB Local (about 16 s there)


def seed(n_apps: int, due: int, *, status: str = "enabled", edition: str = "standard") -> list[int]:
    """n apps on one account; `due` of them expire at E, the rest a year later (nothing due)."""
    ctx = make_ctx(now=E - timedelta(days=40), tz=UTC_TZ)
    AccountModel("acme", email="a@x.test", phone="+1555", due_shard=due_shard("acme"), created_at=ctx.now,
                 apps_count=n_apps).save()
    ids = []
    with AppModel.batch_write() as batch:
        for i in range(n_apps):
            sid = BASE + i
            app = AppModel(sid, account_id="acme", name=f"a{i}", region="us", edition=edition, status=status,
                           created_at=ctx.now, expires_at=E if i < due else E + timedelta(days=365),
                           due_shard=due_shard(sid), had_paid=True)
            if status == "stopped":
                app.stop_reason, app.stopped_at = "expired", app.expires_at
            refresh_dues(ctx, app)
            batch.save(app)
            ids.append(sid)
    return ids


def run(job: str, at: datetime) -> dict[str, int]:
    return runner.run_job(job, at, contexts(UTC_TZ))["summary"]


def snapshot() -> tuple[list[dict], list[str]]:
    apps = sorted((a.serialize() for a in AppModel.scan()), key=lambda a: int(a["sdkappid"]["N"]))
    notes = sorted(n.notification_id for n in NotificationModel.scan())
    return apps, notes


CASES = [
    ("expiry-warnings", datetime(2026, 8, 18, 1, 0, tzinfo=UTC), "enabled", "warned"),
    ("expiry-enforcement", datetime(2026, 8, 21, 10, 5, tzinfo=UTC), "enabled", "stopped"),
    ("reclamation", datetime(2026, 11, 19, 3, 0, tzinfo=UTC), "stopped", "reclaimed"),
]


@pytest.mark.parametrize(("job", "at", "status", "outcome"), CASES)
def test_job_run_twice_for_same_instant_changes_nothing(store, job, at, status, outcome):
    seed(12, 12, status=status)
    first = run(job, at)
    assert first[outcome] == 12
    before = snapshot()
    second = run(job, at)
    assert second[outcome] == 0
    assert snapshot() == before


@pytest.mark.parametrize(("job", "at", "status", "outcome"), CASES)
def test_job_interrupted_half_way_completes_on_rerun(store, monkeypatch, job, at, status, outcome):
    seed(10, 10, status=status)
    step_name = {"expiry-warnings": "warn", "expiry-enforcement": "enforce", "reclamation": "reclaim_due"}[job]
    real = getattr(lifecycle, step_name)
    done = []

    def crashing(ctx, app):
        if len(done) == 4:
            raise Killed("injected kill after 4 apps")
        result = real(ctx, app)
        done.append(app.sdkappid)
        return result

    monkeypatch.setattr(lifecycle, step_name, crashing)
    with pytest.raises(Killed):
        run(job, at)
    monkeypatch.setattr(lifecycle, step_name, real)
    rerun = run(job, at)
    assert rerun[outcome] == 6
    apps, notes = snapshot()
    if outcome == "warned":
        assert len(notes) == 20 and all(a["last_warned_day"] == {"S": "2026-08-18"} for a in apps)
    elif outcome == "stopped":
        assert len(notes) == 20 and all(a["status"] == {"S": "stopped"} for a in apps)
    else:
        assert all(a["status"] == {"S": "reclaimed"} for a in apps)
        assert AccountModel.get("acme").apps_count == 0


@pytest.mark.parametrize(("job", "at", "status", "outcome"), CASES)
def test_jobs_never_scan_requests_do_not_grow_with_other_apps(store, job, at, status, outcome):
    seed(1000, 10, status=status)
    with count_requests() as counter:
        summary = run(job, at)
    assert summary[outcome] == 10
    assert "Scan" not in counter.calls
    per_app = (counter.total - 4) / 10  # 4 = one Query per due-index shard
    print(f"{job}: {counter.total} requests for 10 due apps of 1000 ({dict(counter.calls)}), {per_app:.1f}/app")
    # one Query per due-index shard (+ per reclaimed app: its notifications and its usage items)
    assert counter.calls["Query"] == 4 + (20 if job == "reclamation" else 0)
    # reclamation: the tombstone, then the purge and the end of purge_pending (about 7 per app)
    assert counter.total <= 4 + 10 * (7 if job == "reclamation" else 5)


def test_enforcement_auto_renews_in_one_transaction(store):
    ids = seed(3, 3)
    for sid in ids:
        app = AppModel.get(sid)
        app.auto_renew = True
        refresh_dues(make_ctx(now=E, tz=UTC_TZ), app)
        app.save()
    acct = AccountModel.get("acme")
    acct.cash = 39900 * 2
    acct.save()
    summary = run("expiry-enforcement", E + timedelta(minutes=5))
    assert summary["renewed"] == 2 and summary["renew_failed"] == 1
    assert AccountModel.get("acme").cash == 0
