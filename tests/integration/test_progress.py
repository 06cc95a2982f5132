"""Issue 11 item 5: a long clock move or job run logs its progress (logger imbill.jobs); `imbill
jobs run` shows a progress bar on a terminal only (stdout stays the JSON summary)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from chalicelib import cli
from chalicelib.jobs import runner
from tests.composed import contexts
from tests.integration.test_jobs import seed

UTC_TZ = ZoneInfo("UTC")
WARN_AT = datetime(2026, 8, 18, 1, 0, tzinfo=UTC)  # E-2: a warning day


def test_a_clock_move_logs_its_progress(store, monkeypatch, caplog):
    seed(3, 3)
    monkeypatch.setattr(runner, "PROGRESS_EVERY", 0.0)  # a line after every run
    with caplog.at_level(logging.INFO, logger="imbill.jobs"):
        moved = runner.run_between(WARN_AT - timedelta(hours=1), WARN_AT + timedelta(hours=2), contexts(UTC_TZ))
    lines = [r.getMessage() for r in caplog.records if r.name == "imbill.jobs"]
    assert moved.jobs_run and lines
    assert lines[0].startswith("clock move at 2026-08-18T01:00:00Z (to 2026-08-18T03:00:00Z): 1 runs, 1 acted")


def test_a_job_run_logs_its_progress_and_reports_each_request(store, monkeypatch, caplog):
    seed(3, 3)
    monkeypatch.setattr(runner, "PROGRESS_EVERY", 0.0)
    seen: list[str] = []
    with caplog.at_level(logging.INFO, logger="imbill.jobs"):
        out = runner.run_job("expiry-warnings", WARN_AT, contexts(UTC_TZ), on_request=seen.append)
    assert out["summary"]["warned"] == 3
    lines = [r.getMessage() for r in caplog.records if r.name == "imbill.jobs" and " requests, " in r.getMessage()]
    summaries = [r.getMessage() for r in caplog.records if r.name == "imbill.jobs" and " as of " in r.getMessage()]
    assert len(summaries) == 1  # and the run's summary line (logs.job_run)
    assert len(lines) == len(seen) > 3 and "Query" in seen
    assert lines[-1].startswith(f"job expiry-warnings at 2026-08-18T01:00:00Z: {len(seen)} requests")


def test_jobs_run_goes_through_the_api_and_prints_its_json(api, monkeypatch):
    """`imbill jobs run` is POST /v1/jobs/{job}/runs at IMBILL_URL, like every other command (it
    needs no DynamoDB port); a refusal of the API is exit code 2 with its message."""

    sent = []

    def transport(method, path, body=None, headers=None):
        sent.append((method, path, body))
        r = api.call(method, path, body, headers=headers)
        return r.status, r.body

    from chalicelib import cli_client
    monkeypatch.setattr(cli_client, "transport", transport)
    api.clock("2026-08-18T01:00:00Z")
    seed(1, 1)
    result = CliRunner().invoke(cli.cli, ["jobs", "run", "expiry-warnings", "--at", "2026-08-18T01:00:00Z"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["warned"] == 1
    assert sent == [("POST", "/v1/jobs/expiry-warnings/runs", {"at": "2026-08-18T01:00:00Z"})]
    ahead = CliRunner().invoke(cli.cli, ["jobs", "run", "expiry-warnings", "--at", "2026-08-19T01:00:00Z"])
    assert ahead.exit_code == 2 and "HTTP 400" in ahead.stderr
