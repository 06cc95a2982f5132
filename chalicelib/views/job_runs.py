"""Job run history: the runner writes one view item per run (`jobruns#<job>`, `<at>#<started_at>`)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.calendar import iso, parse_instant
from chalicelib.views.model import ViewModel

log = logging.getLogger("imbill.views")


def wall_now() -> datetime:
    """When a run really started and finished is operations data, not billing time: the wall clock."""
    return datetime.now(UTC)


def key(job: str, at: datetime, started_at: datetime) -> tuple[str, str]:
    return f"jobruns#{job}", f"{iso(at)}#{iso(started_at)}"


def record(result: dict[str, Any], at: datetime, started_at: datetime) -> None:
    """Write the run; a failed write is logged, never fails the run (its work is committed)."""
    failed = result.get("failed", result["summary"].get("failed", 0))
    try:
        ViewModel(*key(result["job"], at, started_at), job=result["job"], at=at, started_at=started_at,
                  finished_at=wall_now(), summary=json.dumps(result["summary"], sort_keys=True),
                  failed=int(failed)).save()
    except Exception as err:  # noqa: BLE001
        log.warning("job run %s at %s not recorded: %s", result["job"], iso(at), err)


def record_all(results: list[dict[str, Any]], started_at: datetime) -> None:
    """The runs of one test-clock move or local scheduler tick (many instants in one call): the
    runner lists only those that acted (an idle hourly run a year long would be 8,760 items)."""
    for r in results:
        record(r, parse_instant(r["at"]), started_at)


def runs(jobs: list[str], limit: int) -> list[dict[str, Any]]:
    """Newest first: a Query per job (newest first, `limit`), merged."""
    found: list[ViewModel] = []
    for job in jobs:
        found += list(ViewModel.query(f"jobruns#{job}", scan_index_forward=False, limit=limit))
    found.sort(key=lambda r: (r.at, r.started_at), reverse=True)
    return [{
        "job": r.job,
        "at": iso(r.at),
        "started_at": iso(r.started_at),
        "finished_at": iso(r.finished_at),
        "summary": json.loads(r.summary or "{}"),
        "failed": int(r.failed or 0),
    } for r in found[:limit]]

