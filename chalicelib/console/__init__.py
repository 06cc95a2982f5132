"""The web console at /console: one HTML page and its static JS/CSS, served by the API itself.

No inline script and no data in the HTML but the billing zone: the page's modules call the JSON
API with the token the person typed (kept in sessionStorage, sent as `Authorization: Bearer`, never
in a URL or a cookie, so another site cannot make the browser send it)."""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.config import settings

bp = Blueprint(__name__)
STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml", ".html": "text/html; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=32)  # bounded: names come from the URL
def asset(name: str) -> tuple[str, str] | None:
    """(text, content type) of a static file, or None (no path outside static/)."""
    path = (STATIC / name).resolve()
    if path.parent != STATIC or path.suffix not in TYPES or not path.is_file():
        return None
    return path.read_text(encoding="utf-8"), TYPES[path.suffix]


def page() -> str:
    text, _ = asset("index.html") or ("", "")
    return text.replace("{{zone}}", html.escape(settings().timezone, quote=True))


@bp.route("/console", methods=["GET"])
def console() -> Response:
    return Response(body=page(), status_code=200,
                    headers={"Content-Type": TYPES[".html"], **SECURITY_HEADERS})


@bp.route("/console/static/{name}", methods=["GET"])
def static(name: str) -> Response:
    found = asset(name) if name != "index.html" else None
    if found is None:
        return Response(body="not found", status_code=404,
                        headers={"Content-Type": "text/plain; charset=utf-8", **SECURITY_HEADERS})
    text, kind = found
    return Response(body=text, status_code=200, headers={"Content-Type": kind, **SECURITY_HEADERS})
