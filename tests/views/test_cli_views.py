"""`imbill accounts|bills|due|revenue|job-runs` over the API (here the Chalice test client)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from chalicelib import cli_client
from chalicelib.cli import cli
from chalicelib.local.poller import StreamPoller
from tests.composed import contexts

pytestmark = pytest.mark.fresh_tables  # reads the streams from their horizon


@pytest.fixture
def run(api, monkeypatch):
    monkeypatch.setattr(cli_client, "transport", api.transport)
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(cli, list(args), env={"COLUMNS": "200"})
        return result

    return invoke


def test_cli_views_print_tables_and_json(api, run):
    sid = api.paid_app("2026-03-01T00:00:00Z", cash="1000.00")
    StreamPoller(contexts(ZoneInfo("UTC"))).poll_once()
    api.ok("POST", "/v1/jobs/expiry-warnings/runs", {"at": "2026-03-01T00:00:00Z"}, expect=200)

    out = run("accounts", "list", "--q", "ac")
    assert out.exit_code == 0, out.output
    assert "acme" in out.output and "601.00" in out.output
    data = json.loads(run("accounts", "list", "--status", "active", "--json").output)
    assert [a["account_id"] for a in data["items"]] == ["acme"]

    out = run("accounts", "show", "acme")
    assert out.exit_code == 0 and "purchase" in out.output and str(sid) in out.output
    assert json.loads(run("accounts", "show", "acme", "--json").output)["account"]["balance"]["total"] == "601.00"

    out = run("revenue", "--from", "2026-03", "--to", "2026-03")
    assert out.exit_code == 0 and "399.00" in out.output
    assert json.loads(run("revenue", "--from", "2026-03", "--to", "2026-03", "--json").output)["items"][0][
        "prepaid_sales"] == "399.00"

    out = run("due", "--job", "expiry-enforcement", "--before", "2026-04-02T00:00:00Z")
    assert out.exit_code == 0 and str(sid) in out.output
    out = run("job-runs", "--json")
    assert json.loads(out.output)["items"][0]["job"] == "expiry-warnings"
    assert "expiry-warnings" in run("job-runs").output

    out = run("bills", "acme")
    assert out.exit_code == 0 and "(none)" in out.output
    out = run("revenue", "--from", "2026-13")
    assert out.exit_code == 1 and "from must be a month" in out.output
