"""Service endpoints (contract "Service endpoints"): GET /v1/health, GET /docs with every asset served
by the service, and a 503 (not a 500) when the store does not answer."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from botocore.exceptions import EndpointConnectionError
from pynamodb.exceptions import GetError

from chalicelib.config import VERSION
from tests.helpers import assert_error

ROOT = Path(__file__).resolve().parents[2]


def test_health_answers_status_version_and_stage_without_auth(api):
    from chalicelib import bootstrap

    r = api.call("GET", "/v1/health", role=None)
    assert r.status == 200
    assert r.body == {"status": "ok", "version": VERSION, "stage": bootstrap.current().settings.stage}
    assert VERSION == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    op = api.ok("GET", "/v1/openapi.json", role=None)["paths"]["/v1/health"]["get"]
    assert "security" not in op and {"200", "503"} <= set(op["responses"])


def test_health_is_503_when_the_store_does_not_answer(api):
    from chalicelib import bootstrap

    def down():
        raise GetError("Failed to get item", EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))

    deps = bootstrap.current()
    bootstrap.use(dataclasses.replace(deps, uow=down))
    try:
        r = api.call("GET", "/v1/health", role=None)
        assert_error(r, 503, "unavailable")
        r = api.call("GET", "/v1/accounts/acme")  # any route: the store down is a 503, not a 500
        assert_error(r, 503, "unavailable")
    finally:
        bootstrap.use(deps)


def test_docs_is_an_api_reference_whose_every_asset_the_service_serves(api):
    r = api.client.http.get("/docs")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    page = r.body.decode()
    assert 'spec-url="v1/openapi.json"' in page  # relative: works behind a stage path too
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", page), "no asset from elsewhere (no CDN)"
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts == ["docs/redoc.standalone.js"]
    asset = api.client.http.get("/docs/redoc.standalone.js")
    assert asset.status_code == 200 and asset.headers["Content-Type"].startswith("text/javascript")
    assert len(asset.body) > 500_000 and b"Redoc" in asset.body[:2000]
    assert "connect-src 'self'" in r.headers["Content-Security-Policy"]
    assert_error(api.call("GET", "/docs/app.py", role=None), 404, "not_found")
    assert api.client.http.get("/docs/index.html").status_code == 404
