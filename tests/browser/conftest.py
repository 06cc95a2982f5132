"""The console in a real browser: `imbill serve --in-memory` in a subprocess (DynamoDB Local, the stream poller,
the scheduler and the Chalice local server exactly as a developer runs them), driven by headless
Chromium (Debian's package) through Playwright. Screenshots go to tests/output/screenshots."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.api.auth import encode
from tests.serving import stop_process, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "output" / "screenshots"
CHROMIUM = os.environ.get("IMBILL_CHROMIUM", "/usr/bin/chromium")
SECRET = "browser-test-secret-0123456789abcdef"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token(role: str, account: str | None = None) -> str:
    return encode({"sub": account or role, "role": role, "exp": int(time.time()) + 3600}, SECRET)


class Http:
    """The JSON API over real HTTP (to seed data and to check what the pages show)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None, *, role: str = "operator",
             account: str | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {token(role, account)}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, out = self.call(method, path, body, **kw)
        assert status in (200, 201), f"{method} {path} -> {status} {out}"
        return out


@pytest.fixture(scope="session")
def server() -> Iterator[Http]:
    missing = [what for what, ok in ((f"Chromium at {CHROMIUM} (apt-get install chromium)", Path(CHROMIUM).exists()),
                                     ("java for DynamoDB Local", shutil.which("java") is not None)) if not ok]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing in CI: {', '.join(missing)} (.ci/run installs them)")
        pytest.skip(f"no {', '.join(missing)}")
    port = _free_port()
    env = {**os.environ, "IMBILL_AUTH_SECRET": SECRET, "IMBILL_TIMEZONE": "Asia/Shanghai",
           "IMBILL_TABLE_PREFIX": "browser-"}
    for name in ("IMBILL_DYNAMODB_ENDPOINT", "IMBILL_STAGE", "IMBILL_TEST_CLOCK", "IMBILL_NOTIFY"):
        env.pop(name, None)
    log = (ROOT / "tests" / "output")
    log.mkdir(parents=True, exist_ok=True)
    out = open(log / "browser-server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.cli", "serve", "--in-memory", "--port", str(port)],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, base + "/v1/openapi.json", lambda: f"see {log / 'browser-server.log'}")
        yield Http(base)
    finally:
        stop_process(proc, timeout=15)
        out.close()


@pytest.fixture(scope="session")
def browser(server: Http) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: Http) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(90_000)  # a shared 2-core machine: the first calls of a server thread are slow
    pg = context.new_page()
    pg.dialogs = []  # any alert() would be a script run from data
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.requests = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    yield pg
    context.close()


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, server: Http, tok: str) -> None:
    page.goto(server.base + "/console")
    page.get_by_label("Access token").fill(tok)
    page.get_by_role("button", name="Sign in").click()
