"""Contexts for tests and scripts over the process's composition (chalicelib/bootstrap.py).

The code below the entry points takes every dependency on its context; a test that builds a context
itself gets one here whose unit of work and notifier are those of the composition in use when it
is opened (a fixture may compose another one after the context was made: a module-level context,
the notifier fixture of tests/unit), as a context built without them used to."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import bootstrap, config
from chalicelib.domain.catalog import Catalog
from chalicelib.notify import Notifier
from chalicelib.services.context import SYSTEM, Contexts, Ctx, Principal
from chalicelib.store.port import UnitOfWork


def _uow() -> UnitOfWork:
    return bootstrap.current().uow()


def _notifier() -> Notifier:
    return bootstrap.current().notifier


class _Clock:
    def now(self) -> datetime:
        return bootstrap.current().clock.now()


def contexts(tz: ZoneInfo | None = None) -> Contexts:
    """The composition's context factory (in billing zone `tz` when given), following the composition;
    its settings are the environment's as of now (a test that changed a variable and called
    config.reset_settings() sees them, as the code once read them itself)."""
    deps = bootstrap.current()
    return Contexts(tz=tz if tz is not None else deps.zone, catalog=deps.catalog, uow=_uow, notifier=_notifier,
                    settings=config.settings(), clock=_Clock())


def make_ctx(now: datetime, tz: ZoneInfo, principal: Principal = SYSTEM, *, catalog: Catalog | None = None,
             uow: Callable[[], UnitOfWork] | None = None, **rest: Any) -> Ctx:
    """A Ctx over the composition: what is not given follows it (the unit of work and notifier when used)."""
    base = contexts(tz).at(now, principal, actor=rest.pop("actor", None), request_id=rest.pop("request_id", None))
    changes: dict[str, Any] = {**rest}
    if catalog is not None:
        changes["catalog"] = catalog
    if uow is not None:
        changes["uow"] = uow
    return base if not changes else Ctx(**{**base.__dict__, **changes})


def job_ctx(job: str, now: datetime, tz: ZoneInfo) -> Ctx:
    """The context of a job's run at `now` (its actor: {"role": "system", "sub": <job>})."""
    return contexts(tz).job(job, now)
