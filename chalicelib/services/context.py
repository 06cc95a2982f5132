"""What every use case receives: the instant it acts at, the billing zone, the catalog, the caller,
and the unit of work it stores through (composed in chalicelib/bootstrap.py: DynamoDB; the in-memory fake
in service tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.catalog import Catalog, catalog
from chalicelib.domain.errors import Forbidden, NotFound
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


def composed_uow() -> UnitOfWork:
    """A unit of work of the process's composition (chalicelib/bootstrap.py), asked when one is
    opened: what a Ctx built without its own stores through."""
    from chalicelib import bootstrap  # bootstrap composes Ctx: imported when first needed, not at load

    return bootstrap.current().uow()


@dataclass(frozen=True)
class Ctx:
    now: datetime
    tz: ZoneInfo
    principal: Principal = SYSTEM
    catalog: Catalog = field(default_factory=catalog)
    uow: Callable[[], UnitOfWork] = composed_uow
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


def job_ctx(job: str, now: datetime, tz: ZoneInfo) -> Ctx:
    """The context of a job's run: its changes' actor is {"role": "system", "sub": <job>}."""
    return Ctx(now=now, tz=tz, principal=SYSTEM, actor=job_actor(job))


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
