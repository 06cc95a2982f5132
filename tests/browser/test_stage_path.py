"""The console and the API reference behind a stage path, as API Gateway serves them: every request
arrives under /api/ and the gateway strips the stage before the app sees it. A proxy in front of
`imbill serve` does the same here (and refuses anything outside /api/, as a deployed API has nothing
there); Chromium loads the console and the reference from /api/ and every asset must come from
/api/ and load."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import Http, token

STAGE = "/api"


class _StagePath(BaseHTTPRequestHandler):
    upstream: tuple[str, int] = ("127.0.0.1", 0)
    seen: list[str] = []

    def _forward(self) -> None:
        self.seen.append(self.path)
        if not (self.path == STAGE or self.path.startswith(STAGE + "/")):
            body = b'{"message": "Forbidden"}'  # API Gateway's answer outside the stage
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(self.command, self.path[len(STAGE):] or "/", body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@pytest.fixture(scope="module")
def staged(server: Http) -> Iterator[tuple[str, list[str]]]:
    """The proxy's base URL (with the stage) and the paths it was asked for."""
    upstream = urlsplit(server.base)
    seen: list[str] = []
    handler = type("Handler", (_StagePath,), {"upstream": (upstream.hostname, upstream.port), "seen": seen})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}{STAGE}", seen
    finally:
        proxy.shutdown()
        proxy.server_close()


def _watch(page: Any) -> list[tuple[str, int]]:
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: answers.append((r.url, r.status)))
    return answers


def test_the_console_works_under_a_stage_path(page: Any, staged: tuple[str, list[str]]) -> None:
    base, seen = staged
    answers = _watch(page)
    page.goto(base + "/console")
    page.get_by_label("Access token").fill(token("operator"))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.locator("section", has=page.get_by_role("heading", name="Revenue by month")).wait_for()
    page.wait_for_load_state("networkidle")
    assert answers and all(url.startswith(base + "/") for url, _ in answers), [u for u, _ in answers]
    failed = [(url, status) for url, status in answers if status >= 400]
    assert failed == [], failed
    loaded = {urlsplit(url).path for url, _ in answers}
    for asset in ("/api/console", "/api/console/static/app.js", "/api/console/static/console.css"):
        assert asset in loaded, sorted(loaded)
    assert any(p.startswith("/api/v1/") for p in loaded), "the API is called under the stage too"
    assert not [p for p in seen if not p.startswith(STAGE + "/")], seen
    assert page.errors == []


def test_the_api_reference_works_under_a_stage_path(page: Any, staged: tuple[str, list[str]]) -> None:
    base, _ = staged
    answers = _watch(page)
    page.goto(base + "/docs")
    page.get_by_text("Create an account (operator)").first.wait_for()  # Redoc rendered the document
    loaded = {(urlsplit(url).path, status) for url, status in answers}
    assert {("/api/docs", 200), ("/api/docs/redoc.standalone.js", 200), ("/api/v1/openapi.json", 200)} <= loaded
    fetched = [url for url, _ in answers if not url.startswith("blob:")]  # Redoc's search worker, made in the page
    assert all(url.startswith(base + "/") for url in fetched), fetched
    assert page.errors == []
