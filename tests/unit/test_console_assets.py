"""The console's assets name no absolute path (issue 20 item 4): the page and its modules resolve every
asset and API URL against the console's own URL, so a deployment under a stage path (/api/console) works."""

from __future__ import annotations

import re

from chalicelib.console import STATIC

ABSOLUTE = re.compile(r"""(?:["'`(]|href=|src=)\s*/(?:v1|console)\b""")


def test_no_asset_or_api_url_is_absolute():
    found = {p.name: ABSOLUTE.findall(p.read_text(encoding="utf-8"))
             for p in STATIC.iterdir() if p.suffix in (".js", ".html", ".css")}
    assert {name: hits for name, hits in found.items() if hits} == {}
    api = (STATIC / "api.js").read_text(encoding="utf-8")
    assert 'new URL("../../", import.meta.url)' in api  # the service root, from the module's own URL
