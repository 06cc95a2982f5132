"""Service endpoints: GET /v1/health and the API reference at GET /docs (Redoc over the service's
own /v1/openapi.json, every asset served from here: no CDN)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api import schemas as s
from chalicelib.api.http import Call, route
from chalicelib.config import VERSION
from chalicelib.services import health

bp = Blueprint(__name__)
REFERENCE = Path(__file__).resolve().parent / "reference"
ASSETS = {"redoc.standalone.js": "text/javascript; charset=utf-8"}  # the vendored Redoc bundle (npm `redoc`)
# Redoc renders with inline styles and runs its search in a worker made from a blob
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; frame-ancestors 'none'")
DOCS_HEADERS = {"Content-Security-Policy": DOCS_CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


class Health(s.Reply):
    status: str
    version: str
    stage: str


@route(bp, "/v1/health", summary="Whether the service and its store answer (no auth)", answer=Health,
       public=True, errors=(503,))
def get_health(call: Call) -> tuple[int, dict[str, Any]]:
    if not health.store_answers(call.ctx):
        return 503, {"error": {"code": "unavailable", "message": "the store does not answer"}}
    return 200, {"status": "ok", "version": VERSION, "stage": call.ctx.settings.stage}


@lru_cache(maxsize=len(ASSETS) + 1)
def _text(name: str) -> str:
    return (REFERENCE / name).read_text(encoding="utf-8")


@bp.route("/docs", methods=["GET"])
def docs() -> Response:
    return Response(body=_text("index.html"), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache", **DOCS_HEADERS})


@bp.route("/docs/{name}", methods=["GET"])
def docs_asset(name: str) -> Response:
    kind = ASSETS.get(name)
    if kind is None:
        return Response(body={"error": {"code": "not_found", "message": f"no asset {name!r}"}}, status_code=404,
                        headers={"Content-Type": "application/json"})
    return Response(body=_text(name), status_code=200,
                    headers={"Content-Type": kind, "Cache-Control": "public, max-age=86400", **DOCS_HEADERS})
