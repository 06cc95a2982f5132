"""The project's log lines reach a handler (Chalice no longer sets `imbill` to ERROR and cuts it
off); in Lambda they are JSON with the invocation's keys, and every job run logs its summary."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_imbill_warnings_propagate_after_import_app(caplog) -> None:  # type: ignore[no-untyped-def]
    import app  # noqa: F401

    with caplog.at_level(logging.INFO):
        logging.getLogger("imbill.notify").warning("SES refused: %s", "throttled")
    assert [r.getMessage() for r in caplog.records] == ["SES refused: throttled"]
    assert logging.getLogger("imbill").getEffectiveLevel() <= logging.INFO


def test_lambda_logs_are_json_with_request_and_job_keys() -> None:
    code = """
import logging
from datetime import UTC, datetime
import app
from chalicelib import logs
logs.bind(request_id="req-1", route="POST /v1/accounts", account="acme")
logging.getLogger("imbill.notify").warning("SES refused")
logs.unbind("request_id", "route", "account")
logs.job_run("expiry-warnings", datetime(2026, 8, 18, 1, tzinfo=UTC), lambda: ({"warned": 2}, 1))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMBILL_")}
    env.update(AWS_LAMBDA_FUNCTION_NAME="imbill-test", IMBILL_STAGE="local")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    warning = next(entry for entry in lines if entry.get("message") == "SES refused")
    assert (warning["level"], warning["request_id"], warning["route"], warning["account"]) == (
        "WARNING", "req-1", "POST /v1/accounts", "acme")
    summary = next(entry for entry in lines if entry.get("summary"))
    assert summary["job"] == "expiry-warnings" and summary["summary"] == {"warned": 2} and summary["failed"] == 1
    assert summary["level"] == "WARNING" and "request_id" not in summary  # failed items: a warning
    metrics = [entry for entry in lines if "_aws" in entry]
    assert {m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in metrics} >= {
        "JobItemsDone", "JobItemsFailed", "JobDuration"}
    assert all(m["job"] == "expiry-warnings" for m in metrics)
