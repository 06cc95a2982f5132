"""`imbill renewals list|quote|renew` over the API (here the Chalice test client; issue 18)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chalicelib import cli_client
from chalicelib.cli import cli


@pytest.fixture
def run(api, monkeypatch):
    def transport(method: str, path: str, body=None, headers=None):
        r = api.call(method, path, body, headers=headers)
        return r.status, r.body

    monkeypatch.setattr(cli_client, "transport", transport)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), env={"COLUMNS": "200"})


def test_renewals_list_quote_and_renew(api, run):
    a = api.paid_app("2026-03-01T00:00:00Z", cash="1500.00")
    b = api.app(name="b")
    api.buy(b, "standard", 2)  # 303.00 left
    out = run("renewals", "list", "acme")
    assert out.exit_code == 0, out.output
    assert out.output.index(str(a)) < out.output.index(str(b))  # a expires first
    listed = json.loads(run("renewals", "list", "acme", "--json").output)["items"]
    assert [(p["sdkappid"], p["expires_at"]) for p in listed] == [
        (a, "2026-04-01T00:00:00Z"), (b, "2026-05-01T00:00:00Z")]
    out = run("renewals", "quote", "acme", f"{a}:standard", f"{b}:standard:2")
    assert out.exit_code == 0 and "NOT covered: 894.00 short" in out.output, out.output
    assert run("renewals", "renew", "acme", f"{a}:standard", "--yes").exit_code == 1  # 402: 303.00 < 399.00
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "96.00", "kind": "gift"})
    out = run("renewals", "renew", "acme", f"{a}:standard", "--yes", "--idempotency-key", "k1")
    assert out.exit_code == 0 and "balance 0.00 (cash 0.00, gift 0.00)" in out.output, out.output
    again = run("renewals", "renew", "acme", f"{a}:standard", "--yes", "--idempotency-key", "k1", "--json")
    assert json.loads(again.output)["balance"]["total"] == "0.00"  # the first answer, not a second charge
    assert len(api.ok("GET", f"/v1/apps/{a}/orders")["items"]) == 2
    assert run("renewals", "quote", "acme", "nonsense").exit_code == 1
