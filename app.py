"""imbill: wiring only. Routes live in chalicelib/api, one @app.schedule per job below."""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice, Cron

from chalicelib import logs
from chalicelib.api import register
from chalicelib.api.http import billing_zone
from chalicelib.config import settings
from chalicelib.domain.calendar import parse_instant
from chalicelib.jobs.runner import load_jobs, run_job
from chalicelib.store.models import configure
from chalicelib.views.streams import apply_records, wire_streams

logs.configure()
settings()  # refuses to start without IMBILL_AUTH_SECRET outside the local stage
configure()
app = Chalice(app_name="imbill")
register(app)


def _scheduled(name: str) -> Any:
    def handler(event: Any) -> dict[str, Any]:
        return run_job(name, parse_instant(event.time), billing_zone())

    handler.__name__ = name.replace("-", "_")
    return handler


for _job in load_jobs().values():
    s = _job.schedule
    cron = Cron(s.minute, "*" if s.hour is None else s.hour,
                "*" if s.days is None else f"{min(s.days)}-{max(s.days)}", "*", "?", "*")
    app.schedule(cron, name=_job.name.replace("-", "_"))(_scheduled(_job.name))


def _on_stream(event: Any) -> dict[str, int]:
    return apply_records((record.to_dict() for record in event), billing_zone())


# Read views from DynamoDB Streams: one event source per stream whose ARN the deployment gives
# (IMBILL_STREAM_ARN_<TABLE>); locally `imbill serve` polls the streams instead.
wire_streams(app, _on_stream, os.environ)
