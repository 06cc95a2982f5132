"""`imbill serve` as a user runs it: a subprocess on free ports with DynamoDB Local behind it.

It holds a burst of 50 clients, answers refusals of its gateway in the contract's error shape
without echoing the token, and two servers share one machine (each picks a free DynamoDB port).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalicelib.local import ddblocal
from tests.serving import stop_process

# One worker runs the whole module, so its server is started once (make test: --dist loadgroup).
pytestmark = [pytest.mark.ddblocal, pytest.mark.xdist_group("imbill-serve"), pytest.mark.heavy]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120
CLIENTS = 50


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    token: str
    output: list[str]

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection(ddblocal.HOST, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            raw = response.read()
            return response.status, dict(response.getheaders()), json.loads(raw) if raw else None
        finally:
            conn.close()

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _serve_env() -> dict[str, str]:
    """The caller's environment without the test suite's IMBILL_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMBILL_")}
    env["IMBILL_TIMEZONE"] = "UTC"
    return env


SERVE = [sys.executable, "-m", "chalicelib.cli", "serve"]


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    """`imbill serve ARGS` expected to refuse: its exit code and output."""
    return subprocess.run(
        [*SERVE, *args], cwd=PROJECT_ROOT, env=_serve_env(), capture_output=True, text=True, timeout=120
    )


def start_server(data_dir: Path | None, *extra: str) -> Served:
    """`imbill serve` on a free API port, without --ddb-port; returns once it answers."""
    port = ddblocal.free_port()
    where = ["--in-memory"] if data_dir is None else ["--data-dir", str(data_dir)]
    proc = subprocess.Popen(
        [*SERVE, "--port", str(port), *where, *extra],
        cwd=PROJECT_ROOT,
        env=_serve_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    token: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if "export IMBILL_TOKEN=" in line:
                token.append(line.split("=", 1)[1].strip())

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (token and ddblocal.port_open(port)):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise AssertionError("imbill serve did not start:\n" + "".join(output))
        time.sleep(0.1)
    return Served(proc, port, token[0], output)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not ddblocal.java_available():
        pytest.skip("java is not installed: DynamoDB Local cannot run")
    server = start_server(tmp_path_factory.mktemp("serve-data"))
    try:
        yield server
    finally:
        stop_process(server.proc)


def _burst(server: Served, clients: int) -> list[object]:
    """``clients`` threads connect at the same instant, each sends one request; their outcomes."""
    barrier = threading.Barrier(clients)
    outcomes: list[object] = [None] * clients

    def client(i: int) -> None:
        barrier.wait()
        try:
            sock = socket.create_connection((ddblocal.HOST, server.port), timeout=60)
            with sock:
                request = (
                    f"GET /v1/accounts/burst-{i} HTTP/1.1\r\nHost: local\r\n"
                    f"Authorization: Bearer {server.token}\r\nConnection: close\r\n\r\n"
                )
                sock.sendall(request.encode())
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            outcomes[i] = int(data.split(b" ", 2)[1]) if data else "empty answer"
        except OSError as exc:  # ConnectionResetError, BrokenPipeError, refused, timeout
            outcomes[i] = exc

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_fifty_clients_at_once_are_all_answered(served: Served) -> None:
    for _ in range(3):
        outcomes = _burst(served, CLIENTS)
        failures = [o for o in outcomes if o != 404]  # no such account: answered by the app
        assert failures == [], f"{len(failures)} of {CLIENTS} not answered: {failures[:5]}"


def test_unknown_path_is_404_in_contract_shape_without_the_token(served: Served) -> None:
    for method in ("GET", "POST", "DELETE"):
        status, headers, body = served.request(method, "/v1/no-such-thing?x=1", served.auth())
        assert status == 404
        assert headers["Content-Type"] == "application/json"
        assert body["error"]["code"] == "not_found"
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        assert served.token not in json.dumps(body)
        assert not any(served.token in v for v in headers.values())
    status, _, body = served.request("GET", "/nowhere")
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_unsupported_method_on_known_path_is_405_in_contract_shape(served: Served) -> None:
    status, headers, body = served.request("PUT", "/v1/openapi.json", served.auth())
    assert status == 405
    assert body == {"error": {"code": "method_not_allowed", "message": "PUT is not allowed on /v1/openapi.json"}}
    assert headers["Allow"] == "GET"
    assert served.token not in json.dumps(body)


def _raw(served: Served, request: bytes) -> tuple[int, dict[str, str], Any]:
    """Send `request` as bytes (http.client refuses what these tests send); status, headers, JSON body."""
    with socket.create_connection((ddblocal.HOST, served.port), timeout=60) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if len(rest) >= length:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ", 2)[1]), headers, json.loads(body)


def test_any_method_and_any_header_size_answer_the_error_shape(served: Served) -> None:
    """Issue 20: TRACE, CONNECT and made-up methods were 501 HTML, a 100 KB header 431 HTML."""
    for method, path, status in (("TRACE", "/v1/accounts", 405), ("FOO", "/v1/openapi.json", 405),
                                 ("TRACE", "/v1/nowhere", 404), ("CONNECT", "example.com:443", 404)):
        got, headers, body = served.request(method, path, served.auth())
        assert got == status and headers["Content-Type"] == "application/json", (method, path, got, body)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        assert served.token not in json.dumps(body) and headers["X-Request-Id"]
    big = b"GET /v1/openapi.json HTTP/1.1\r\nHost: local\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    status, headers, body = _raw(served, big)
    assert (status, headers["Content-Type"], body["error"]["code"]) == (
        431, "application/json", "request_header_fields_too_large")
    status, _, body = _raw(served, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
    assert (status, body["error"]["code"]) == (414, "uri_too_long")
    status, _, body = _raw(served, b"GET /a b HTTP/1.1\r\n\r\n")
    assert (status, set(body["error"])) == (400, {"code", "message"})


def test_each_request_is_one_log_line_with_its_id_and_never_the_token(served: Served) -> None:
    status, headers, _ = served.request("GET", f"/v1/accounts/logged?token={served.token}", served.auth())
    rid = headers["X-Request-Id"]
    deadline = time.monotonic() + 10
    while not [line for line in served.output if rid in line] and time.monotonic() < deadline:
        time.sleep(0.05)
    (line,) = [line for line in served.output if rid in line]
    method, path, code, ms, unit, logged_id = line.split()
    assert (method, path, code, unit, logged_id) == ("GET", "/v1/accounts/logged", str(status), "ms", rid)
    assert float(ms) >= 0
    assert not [line for line in served.output if served.token in line and "IMBILL_TOKEN" not in line]


def test_dynamodb_local_listens_on_loopback_only(served: Served) -> None:
    (line,) = [line for line in served.output if "DynamoDB Local on port" in line]
    port = line.rsplit("port", 1)[1].strip(" )\n")
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True)
    addresses = {row.split()[3].rsplit(":", 1)[0] for row in listening.stdout.splitlines()}
    assert addresses and addresses <= {"127.0.0.1", "[::ffff:127.0.0.1]"}, listening.stdout


def test_known_routes_still_reach_the_app(served: Served) -> None:
    status, _, body = served.request("GET", "/v1/openapi.json")
    assert status == 200 and body["openapi"].startswith("3.")
    status, _, body = served.request("GET", "/v1/accounts/nobody", served.auth())
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_two_servers_share_one_machine(served: Served, tmp_path: Path) -> None:
    second = start_server(tmp_path / "second")
    try:
        ports = {line for line in second.output + served.output if "DynamoDB Local on port" in line}
        assert len(ports) == 2, ports  # each picked its own free DynamoDB port
        for server in (served, second):
            status, _, body = server.request(
                "POST",
                "/v1/accounts",
                {**server.auth(), "Content-Type": "application/json"},
                json.dumps(
                    {"account_id": f"acme-{server.port}", "email": "ops@acme.test", "phone": "+15550100"}
                ).encode(),
            )
            assert status == 201, body
        # separate stores: neither sees the other's account
        status, _, _ = second.request("GET", f"/v1/accounts/acme-{served.port}", second.auth())
        assert status == 404
    finally:
        stop_process(second.proc)


def test_a_data_folder_in_use_is_refused_in_one_line(served: Served, tmp_path: Path) -> None:
    data_dir = next(
        Path(line.split("Data:", 1)[1].split("(DynamoDB Local", 1)[0].strip())
        for line in served.output
        if "Data:" in line
    )
    result = run_serve("--port", str(ddblocal.free_port()), "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert "is in use by another imbill serve" in result.stderr


def test_moto_engine_is_refused_with_the_reason() -> None:
    result = run_serve("--engine", "moto")
    assert result.returncode == 2
    assert "--engine moto was removed" in result.stderr and "--in-memory" in result.stderr


def test_cli_write_commands_against_the_live_server(served: Served) -> None:
    """`imbill accounts create | topup | vouchers grant | apps create | apps delete | statements` over HTTP,
    each write with an Idempotency-Key (the same key again acts once); tables at 80 columns keep ids whole;
    `accounts show` lists the newest entries first."""
    import csv
    import io
    from decimal import Decimal

    from typer.testing import CliRunner

    from chalicelib.cli import cli

    env = {"IMBILL_URL": f"http://{ddblocal.HOST}:{served.port}", "IMBILL_TOKEN": served.token, "COLUMNS": "80"}

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), env=env)

    def ok(*args: str) -> str:
        out = run(*args)
        assert out.exit_code == 0, out.output
        return str(out.output)

    created = json.loads(ok("accounts", "create", "cli-acme", "--email", "cli@x.test", "--phone", "+15550100",
                            "--json", "--idempotency-key", "acct-1"))
    assert created["account_id"] == "cli-acme"
    again = json.loads(ok("accounts", "create", "cli-acme", "--email", "cli@x.test", "--phone", "+15550100",
                          "--json", "--idempotency-key", "acct-1"))
    assert again == created  # the first answer, not a 409 "exists"
    reused = run("accounts", "create", "cli-acme", "--email", "other@x.test", "--phone", "+15550100",
                 "--idempotency-key", "acct-1")
    assert reused.exit_code == 1 and "idempotency_key_reused" in reused.output

    for _ in range(2):  # a retried top-up with its key charges once
        ok("topup", "cli-acme", "500.00", "--idempotency-key", "topup-1")
    assert "20.00" in ok("topup", "cli-acme", "20.00", "--gift")
    voucher = json.loads(ok("vouchers", "grant", "cli-acme", "25.00", "--json"))
    assert voucher["amount"] == "25.00"
    status, _, acct = served.request("GET", "/v1/accounts/cli-acme", served.auth())
    assert acct["balance"] == {"cash": "500.00", "gift": "20.00", "total": "520.00"}

    app = json.loads(ok("apps", "create", "cli-acme", "--name", "cli-chat", "--json"))
    sid = app["sdkappid"]
    json_headers = {**served.auth(), "Content-Type": "application/json"}
    status, _, bought = served.request("POST", f"/v1/apps/{sid}/purchases", json_headers,
                                       json.dumps({"edition": "standard", "months": 1}).encode())
    assert status == 201, bought
    status, _, _ = served.request("POST", f"/v1/apps/{sid}/refunds", json_headers, b"{}")
    assert status == 201
    assert "reclaimed" in ok("apps", "delete", str(sid), "--yes")

    shown = ok("accounts", "show", "cli-acme")
    order_id = bought["order"]["order_id"]
    assert order_id in shown  # whole, on one line, at 80 columns
    ledger = shown[shown.index("Ledger"):]
    assert ledger.index("refund") < ledger.index("purchase") < ledger.index("topup")  # newest first

    month = served.request("GET", "/v1/test/clock", served.auth())[2]["now"][:7]
    rows = list(csv.DictReader(io.StringIO(ok("statements", "cli-acme", "--month", month, "--csv"))))
    opening = next(r for r in rows if r["record"] == "opening")
    closing = next(r for r in rows if r["record"] == "closing")
    status, _, acct = served.request("GET", "/v1/accounts/cli-acme", served.auth())
    for kind in ("cash", "gift"):
        total = Decimal(opening[f"balance_{kind}"]) + sum(Decimal(r[kind]) for r in rows if r["record"] == "entry")
        assert total == Decimal(closing[f"balance_{kind}"]) == Decimal(acct["balance"][kind])
    assert "closing cash" in ok("statements", "cli-acme", "--month", month)
