"""The one clock. Logic takes `now` from here (or from a job's scheduled instant), never the wall."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that says what it is told (unit tests, job runs as of an instant)."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now


class StoredClock:
    """The test clock: kept in the store so a restart does not reset it; starts at real time."""

    NAME = "test-clock"

    def __init__(self, fallback: Clock | None = None) -> None:
        self._fallback = fallback or SystemClock()

    def now(self) -> datetime:
        from chalicelib.store.dynamodb.models import MetaModel

        try:
            item = MetaModel.get(self.NAME, consistent_read=True)
            assert item.value is not None
            return datetime.fromisoformat(item.value)
        except MetaModel.DoesNotExist:
            start = self._fallback.now().replace(microsecond=0)
            try:
                MetaModel(self.NAME, value=start.isoformat()).save(condition=MetaModel.name.does_not_exist())
            except Exception:  # noqa: BLE001 - another process initialised it first
                return self.now()
            return start

    def set(self, now: datetime) -> None:
        from chalicelib.store.dynamodb.models import MetaModel

        MetaModel(self.NAME, value=now.astimezone(UTC).isoformat()).save()


def service_clock(test_clock: bool) -> Clock:
    return StoredClock() if test_clock else SystemClock()
