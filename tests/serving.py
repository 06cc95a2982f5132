"""Tests that drive a real `imbill serve` subprocess: wait until it answers, stop it."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable


def wait_until_serving(proc: subprocess.Popen, url: str, describe: Callable[[], str], timeout: float = 120) -> None:
    """Poll `url` until it answers; fail with `describe()` (e.g. the server's log) if the process
    exits or the timeout passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"imbill serve did not start: {describe()}") from None
            time.sleep(0.3)


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (imbill serve shuts DynamoDB Local down on it), then kill if it does not end."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
