"""The local scheduler of `imbill serve`: fires each job at its cron instants against the service clock.

Deployed, EventBridge does this (app.py's @app.schedule). Locally a thread wakes every few seconds,
and runs every scheduled instant between the last mark and the clock's now, in time order. The
mark is kept in the store, so a restart neither repeats nor loses runs; moving the test clock
runs the jobs itself and moves the mark with it."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from chalicelib.jobs.runner import run_between
from chalicelib.store.models import MetaModel
from chalicelib.views import job_runs

log = logging.getLogger("imbill.scheduler")
MARK = "scheduler-mark"


def get_mark() -> datetime | None:
    try:
        value = MetaModel.get(MARK, consistent_read=True).value
    except MetaModel.DoesNotExist:
        return None
    return datetime.fromisoformat(value) if value else None


def set_mark(at: datetime) -> None:
    MetaModel(MARK, value=at.isoformat()).save()


def tick(now: datetime, tz: object) -> int:
    """Run what is due between the mark and `now`; answer how many runs did something."""
    mark = get_mark()
    if mark is None or now <= mark:
        if mark is None:
            set_mark(now)
        return 0
    started = job_runs.wall_now()
    runs = run_between(mark, now, tz, lambda _t: None)  # type: ignore[arg-type]
    job_runs.record_worked(runs, started)
    set_mark(now)
    busy = [r for r in runs if any(r["summary"].values())]
    for r in busy:
        log.info("job %s at %s: %s", r["job"], r["at"], r["summary"])
    return len(busy)


class LocalScheduler:
    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="imbill-scheduler", daemon=True)

    def start(self) -> LocalScheduler:
        self._thread.start()
        return self

    def _loop(self) -> None:
        from chalicelib.api.http import billing_zone, clock

        while not self._stop.is_set():
            try:
                tick(clock().now(), billing_zone())
            except Exception:  # noqa: BLE001 - keep the scheduler alive; the next tick retries
                log.exception("scheduled run failed")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def start_local_scheduler(interval: float = 5.0) -> LocalScheduler:
    return LocalScheduler(interval).start()
