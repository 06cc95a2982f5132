"""Job runs from the API and the CLI (issue 7, items 1, 2 and 10): never ahead of the service clock,
arrears-enforcement racing top-ups answers 200 with a consistent outcome, and a write that stays
contended is a 503 `busy` with Retry-After that changed nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from chalicelib import bootstrap
from chalicelib.api.accounts import topped_up
from chalicelib.cli import cli
from chalicelib.domain.errors import Busy
from chalicelib.services import accounts, idempotency
from chalicelib.services.context import SYSTEM
from chalicelib.store import port
from chalicelib.store.dynamodb.models import AccountModel, AppModel, LedgerModel, OrderModel
from tests.composed import make_ctx
from tests.integration.test_concurrency import atomic_moto_requests, run_together  # noqa: F401 (fixture)
from tests.integration.test_job_steps import ARREARS_DUE, Target, concurrent_writer, seed_account, seed_app

PRODUCTION_RETRIES = (port.TRIES, port.BUDGET)  # read at import, before patient_retries widens them


def test_a_job_run_ahead_of_the_service_clock_is_400_and_does_nothing(api):
    sid = api.paid_app("2026-03-01T00:00:00Z", "399.00")
    api.ok("POST", f"/v1/apps/{sid}/refunds", {})  # disabled: reclaimed 90 days later
    ahead = api.call("POST", "/v1/jobs/reclamation/runs", {"at": "2026-08-01T03:00:00Z"})  # 5 months ahead
    assert (ahead.status, ahead.code) == (400, "invalid_request")
    assert "later than the service clock (2026-03-01T00:00:00Z)" in ahead.body["error"]["message"]
    assert api.ok("GET", f"/v1/apps/{sid}")["status"] == "disabled"
    now = api.ok("POST", "/v1/jobs/reclamation/runs", {"at": "2026-03-01T00:00:00Z"}, expect=200)
    assert now == {"job": "reclamation", "at": "2026-03-01T00:00:00Z", "summary": {"reclaimed": 0, "skipped": 0},
                   "failed": 0}


def _cli_run(*args: str):
    return CliRunner().invoke(cli, ["jobs", "run", *args])


@pytest.fixture
def cli_api(api, monkeypatch):
    """`imbill jobs run` goes through the API (IMBILL_URL): here the test's in-process client."""

    from chalicelib import cli_client
    monkeypatch.setattr(cli_client, "transport", api.transport)
    return api


def test_the_cli_refuses_a_run_ahead_of_the_stored_test_clock(cli_api):
    api = cli_api
    api.clock("2026-03-01T00:00:00Z")
    ahead = _cli_run("reclamation", "--at", "2026-08-01T03:00:00Z")
    assert ahead.exit_code == 2, ahead.output
    lines = ahead.output.strip().splitlines()
    assert len(lines) == 1 and "later than the service clock (2026-03-01T00:00:00Z)" in lines[0], ahead.output
    ok = _cli_run("reclamation", "--at", "2026-03-01T00:00:00Z")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["failed"] == 0


def test_without_the_test_clock_the_cli_compares_with_the_system_clock(cli_api, monkeypatch):
    monkeypatch.setenv("IMBILL_TEST_CLOCK", "0")
    bootstrap.reset()  # composed again from the environment: the system clock
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ahead = _cli_run("expiry-warnings", "--at", tomorrow)
    assert ahead.exit_code == 2 and "later than the service clock" in ahead.output, ahead.output
    assert _cli_run("expiry-warnings", "--at", "2026-01-01T01:00:00Z").exit_code == 0


def test_arrears_enforcement_while_top_ups_hit_the_accounts_answers_200_and_stays_consistent(api):
    accounts_ = 10
    api.clock((ARREARS_DUE + timedelta(minutes=15)).isoformat())
    for i in range(accounts_):  # in arrears for 24 h now, one enabled app each
        account_id = seed_account(i, cash=-100, status="arrears", arrears_since=ARREARS_DUE - timedelta(hours=24),
                              arrears_due_at=ARREARS_DUE)
        seed_app(i, account_id, expires_at=ARREARS_DUE + timedelta(days=365))
    ctx = make_ctx(now=ARREARS_DUE + timedelta(minutes=15), tz=bootstrap.current().zone, principal=SYSTEM)

    def top_up(account_id: str) -> int:
        for _ in range(20):  # as a client honouring Retry-After: a busy answer changed nothing
            try:
                return accounts.topup(ctx, account_id, 40, "cash", idempotency.NONE, topped_up)[0]
            except Busy:
                time.sleep(0.05)
        raise AssertionError(f"top-up of {account_id} busy 20 times")

    def top_ups(account_id: str) -> list[int]:  # 3 x 0.40 on -1.00: the third ends the arrears
        return [top_up(account_id) for _ in range(3)]

    job = {}

    def run_job() -> None:
        r = api.call("POST", "/v1/jobs/arrears-enforcement/runs", {"at": "2026-09-01T00:45:00Z"})
        job["status"], job["body"] = r.status, r.body

    results = run_together([run_job] + [lambda i=i: top_ups(f"acct{i}") for i in range(accounts_)])
    assert all(status == "ok" for status, _ in results), results
    assert job["status"] == 200, job
    assert all(codes == [201, 201, 201] for _, codes in results[1:])
    for i in range(accounts_):
        acct = AccountModel.get(f"acct{i}", consistent_read=True)
        assert (int(acct.cash), acct.status, acct.arrears_due_at) == (20, "active", None)
        app = AppModel.get(1_700_000_000 + i, consistent_read=True)
        assert app.status == "enabled", (i, app.status, app.stop_reason)  # a stop was undone by the top-up


@pytest.mark.timed  # a wall-clock retry budget: not run beside another test (make test)
def test_a_write_that_stays_contended_is_503_busy_with_retry_after_and_changes_nothing(api, monkeypatch):
    monkeypatch.setattr(port, "TRIES", PRODUCTION_RETRIES[0])  # the policy a request really has
    monkeypatch.setattr(port, "BUDGET", PRODUCTION_RETRIES[1])
    sid = api.paid_app("2026-03-01T00:00:00Z", "1000.00")

    def state() -> tuple:
        return api.balance(), [int(e.seq) for e in LedgerModel.query("acme")], len(list(OrderModel.query(sid)))

    before = state()
    body = json.dumps({"edition": "standard", "months": 1}).encode()
    with concurrent_writer(monkeypatch, Target(AccountModel, "acme"), times=None) as done:
        started = time.monotonic()
        r = api.client.http.request("POST", f"/v1/apps/{sid}/purchases", body=body, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {api.token('operator')}"})
        took = time.monotonic() - started
    assert r.status_code == 503, r.body
    assert json.loads(r.body)["error"]["code"] == "busy"
    assert r.headers["Retry-After"] == "1"
    assert done["changes"] >= 2  # it did retry, every try lost to the other writer
    assert took < 3, took  # and gave up within its retry budget
    assert state() == before  # nothing of the purchase was written
    assert api.ok("POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1})  # then it goes


def test_a_month_on_the_test_clock_leaves_a_heartbeat_per_job_even_when_idle(api):
    """Issue 16 item 5: idle runs are counted in one heartbeat per job and day (written in the move's
    mark transaction); a job whose next instant passed 15 min ago without a run is late."""
    from chalicelib.jobs.runner import load_jobs
    from chalicelib.readmodels import job_runs

    api.clock("2026-03-01T00:00:00Z")
    before = api.ok("GET", "/v1/ops/job-health")["items"]
    assert {h["status"] for h in before} == {"never"}
    moved = api.advance(days=30)  # to 2026-03-31T00:00Z: nothing to do, every run idle
    assert moved["jobs_run"] == [] and moved["idle_runs"] > 0
    health = {h["job"]: h for h in api.ok("GET", "/v1/ops/job-health")["items"]}
    assert set(health) == set(load_jobs())
    hourly = health["expiry-enforcement"]
    assert (hourly["status"], hourly["day"], hourly["last_run"], hourly["next_due"], hourly["acted"]) == (
        "ok", "2026-03-30", "2026-03-30T23:05:00Z", "2026-03-31T00:05:00Z", 0)
    assert hourly["runs"] == 30 * 24 and hourly["first_run"] == "2026-03-01T00:05:00Z"
    daily = health["expiry-warnings"]
    assert (daily["status"], daily["last_run"], daily["runs"]) == ("ok", "2026-03-30T01:00:00Z", 30)
    settlement = health["monthly-settlement"]  # days 1-3 at 02:00: counted on the day of its last run
    assert (settlement["status"], settlement["day"], settlement["runs"], settlement["next_due"]) == (
        "ok", "2026-03-03", 3, "2026-04-01T02:00:00Z")
    assert sum(h["runs"] for h in health.values()) == moved["idle_runs"]

    api.advance(hours=1)  # the next day: a heartbeat of its own; the runs ADD up within a day
    api.advance(hours=1)
    hourly = {h["job"]: h for h in api.ok("GET", "/v1/ops/job-health")["items"]}["expiry-enforcement"]
    assert (hourly["day"], hourly["runs"], hourly["last_run"]) == ("2026-03-31", 2, "2026-03-31T01:05:00Z")

    # a silent scheduler: the clock stands at 02:30 without the 02:05 run
    api.clock("2026-03-31T02:00:00Z", run_jobs=False)
    api.clock("2026-03-31T02:30:00Z", run_jobs=False)
    late = {h["job"]: h for h in api.ok("GET", "/v1/ops/job-health")["items"]}["expiry-enforcement"]
    assert (late["status"], late["next_due"]) == ("late", "2026-03-31T02:05:00Z")
    assert job_runs.heartbeats(["expiry-enforcement"], ZoneInfo("UTC"))["expiry-enforcement"]["runs"] == 2


def test_a_run_of_its_own_is_the_jobs_heartbeat_without_a_second_write(api):
    """A run through run_job (the schedule's Lambda, the API, the CLI) is recorded once, as its job-run
    item, and job health reads it: an idle run counts (runs 1, acted 0) with no heartbeat write."""
    api.clock("2026-03-01T03:30:00Z")
    api.ok("POST", "/v1/jobs/reclamation/runs", {"at": "2026-03-01T03:00:00Z"}, expect=200)
    health = {h["job"]: h for h in api.ok("GET", "/v1/ops/job-health")["items"]}["reclamation"]
    assert (health["status"], health["day"], health["last_run"], health["runs"], health["acted"]) == (
        "ok", "2026-03-01", "2026-03-01T03:00:00Z", 1, 0)
