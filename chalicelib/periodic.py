"""A background beat for `imbill serve` (the local scheduler, the stream poller): a daemon thread
that calls `beat()` every `interval` seconds until stopped. A failing beat is logged and the next
one tries again, so the thread outlives any one error."""

from __future__ import annotations

import logging
import threading
import time
from typing import Self


class Periodic:
    name = "imbill-periodic"
    failure = "beat failed"  # the log line of a failing beat
    failure_pause = 0.0  # seconds to wait more after a failing beat

    def __init__(self, interval: float, log: logging.Logger, join_timeout: float = 10) -> None:
        self.interval = interval
        self.log = log
        self.join_timeout = join_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def beat(self) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - keep the thread alive; the next beat retries
                self.log.exception(self.failure)
                time.sleep(self.failure_pause)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.join_timeout)
