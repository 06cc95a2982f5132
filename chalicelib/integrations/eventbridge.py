"""Every event on the stage's EventBridge bus (source `imbill`, detail-type = the event's type,
detail = the Event): PutEvents in batches of 10; the entries a call reports failed are put again
(with back-off), and what still fails raises, so the stream batch is retried (at least once)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

BATCH = 10  # PutEvents entries per call
TRIES = 4


class PutFailed(RuntimeError):
    """Some entries were still refused after every try."""


def entries(bus: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"Source": "imbill", "DetailType": e["type"], "Detail": json.dumps(e, sort_keys=True),
             "EventBusName": bus} for e in events]


def put_events(client: Any, bus: str, events: list[dict[str, Any]],
               sleep: Callable[[float], None] = time.sleep) -> int:
    """Put the events (rendered Events) on `bus`; answers the PutEvents calls made."""
    calls = 0
    pending = entries(bus, events)
    for start in range(0, len(pending), BATCH):
        batch = pending[start:start + BATCH]
        for i in range(TRIES):
            calls += 1
            out = client.put_events(Entries=batch)
            if not out.get("FailedEntryCount"):
                break
            batch = [entry for entry, result in zip(batch, out["Entries"], strict=True) if result.get("ErrorCode")]
            if i + 1 == TRIES:
                codes = sorted({r.get("ErrorCode") for r in out["Entries"] if r.get("ErrorCode")})
                raise PutFailed(f"{len(batch)} event(s) not put on {bus}: {', '.join(codes)}")
            sleep(0.1 * 2 ** i)
    return calls
