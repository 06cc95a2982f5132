"""What every use case receives: the instant it acts at, the billing zone, the catalog, the caller,
the unit of work it stores through, the notifier and the settings. Every one is given: a Ctx is made
from a composition (chalicelib/bootstrap.py: `Deps.ctx`, or `Deps.contexts`, the factory jobs take;
service tests make theirs over the in-memory fake); nothing here falls back on a process-wide default."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.config import Settings
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.notify import Notifier
from chalicelib.store.port import UnitOfWork


@dataclass(frozen=True)
class Principal:
    role: str  # customer | operator | service
    account_id: str | None = None
    sub: str | None = None  # the token's `sub`: an operator's own name (the actor of its events)

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"role {self.role!r} may not do this")

    def check_account(self, account_id: str) -> None:
        """A customer sees only its own account; another account's resources are 'not found'."""
        if self.role == "customer" and self.account_id != account_id:
            raise NotFound(f"account {account_id} not found")
        if self.role == "service":
            raise Forbidden("the service role may only ingest usage and read entitlements")


SYSTEM = Principal(role="operator", account_id=None)


@dataclass(frozen=True)
class Actor:
    """Who caused a change: the caller of an API request, or a job (`system`, the job's name)."""

    role: str  # customer | operator | service | system
    sub: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "sub": self.sub}


def job_actor(job: str) -> Actor:
    return Actor("system", job)


INTERNAL = Actor("system", "imbill")  # a change made outside any request or job (tests, the CLI)


@dataclass(frozen=True)
class Ctx:
    now: datetime
    tz: ZoneInfo
    principal: Principal
    catalog: Catalog
    uow: Callable[[], UnitOfWork]
    notifier: Callable[[], Notifier]  # the composition's notifier (made on first use)
    settings: Settings
    actor: Actor | None = None  # default: the principal's (INTERNAL for SYSTEM)
    request_id: str | None = None  # the API request's id (X-Request-Id), carried by its events

    @property
    def acting(self) -> Actor:
        """The actor of the changes this context commits."""
        if self.actor is not None:
            return self.actor
        p = self.principal
        if p == SYSTEM:
            return INTERNAL
        return Actor(p.role, p.sub or p.account_id or p.role)

    def job(self, job: str, now: datetime) -> Ctx:
        """The context of a job's run at `now`: its changes' actor is {"role": "system", "sub": <job>}."""
        return replace(self, now=now, principal=SYSTEM, actor=job_actor(job), request_id=None)


class Clock(Protocol):
    """The service clock as the contexts see it (chalicelib/clock.py implements it)."""

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class Contexts:
    """The context factory of one composition (chalicelib/bootstrap.py `Deps.contexts`): what the jobs,
    the workers and the stream handlers make each run's Ctx from."""

    tz: ZoneInfo
    catalog: Catalog
    uow: Callable[[], UnitOfWork]
    notifier: Callable[[], Notifier]
    settings: Settings
    clock: Clock  # the service clock: what a worker or a stream handler acts at (`now`)

    def at(self, now: datetime, principal: Principal = SYSTEM, *, actor: Actor | None = None,
           request_id: str | None = None) -> Ctx:
        return Ctx(now=now, tz=self.tz, principal=principal, catalog=self.catalog, uow=self.uow,
                   notifier=self.notifier, settings=self.settings, actor=actor, request_id=request_id)

    def job(self, job: str, now: datetime) -> Ctx:
        """The context of a job's run: its changes' actor is {"role": "system", "sub": <job>}."""
        return self.at(now, SYSTEM, actor=job_actor(job))

    def now(self, job: str) -> Ctx:
        """The context of a worker's (or a stream handler's) change at the service clock's now."""
        return self.job(job, self.clock.now())

    def in_zone(self, tz: ZoneInfo) -> Contexts:
        return replace(self, tz=tz)


_page_reads: ContextVar[dict[Any, Any] | None] = ContextVar("page_reads", default=None)


@contextmanager
def page_reads() -> Iterator[dict[Any, Any]]:
    """Records read for one job page (jobs/steps.run_each), kept while its steps run: what a step
    only reads (a notice's addressee) is read once per page, not once per item."""
    cache: dict[Any, Any] = {}
    token = _page_reads.set(cache)
    try:
        yield cache
    finally:
        _page_reads.reset(token)


def page_cache() -> dict[Any, Any] | None:
    """The current job page's reads (None outside a job page)."""
    return _page_reads.get()
