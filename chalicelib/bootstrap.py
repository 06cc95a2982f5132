"""The one place that composes the dependencies: settings, clock, billing zone, catalog, notifier and
the unit of work (the store). The Chalice app (app.py), the CLI, the local server and the tests each
compose theirs here (:func:`compose`) and hand it down: a request's context (`Deps.ctx`), the jobs'
and workers' context factory (`Deps.contexts`). Only the entry points ask :func:`current`; below
them every dependency travels on the context.

The notifier is made on first use (an SES and an SNS client cost a cold start that no request of a
local notifier needs); nothing here reads a secret or calls AWS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

from chalicelib import config
from chalicelib.clock import Clock, service_clock
from chalicelib.domain.catalog import Catalog
from chalicelib.notify import Notifier, for_settings
from chalicelib.services.context import SYSTEM, Contexts, Ctx, Principal
from chalicelib.store.dynamodb import plumbing
from chalicelib.store.dynamodb.adapter import DynamoUnitOfWork
from chalicelib.store.port import UnitOfWork


@dataclass(frozen=True)
class Deps:
    settings: config.Settings
    clock: Clock
    zone: ZoneInfo
    catalog: Catalog
    uow: Callable[[], UnitOfWork]
    make_notifier: Callable[[], Notifier]

    @cached_property
    def notifier(self) -> Notifier:
        return self.make_notifier()

    @cached_property
    def contexts(self) -> Contexts:
        """The context factory of this composition (jobs, workers, stream handlers)."""
        return Contexts(tz=self.zone, catalog=self.catalog, uow=self.uow, notifier=self._notifier,
                        settings=self.settings, clock=self.clock)

    def _notifier(self) -> Notifier:
        return self.notifier

    def ctx(self, principal: Principal = SYSTEM, request_id: str | None = None) -> Ctx:
        """A use case's context at the clock's instant now (an API request's: its id)."""
        return self.contexts.at(self.clock.now(), principal, request_id=request_id)


def compose(
    settings: config.Settings | None = None,
    *,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    catalog_: Catalog | None = None,
    uow: Callable[[], UnitOfWork] | None = None,
) -> Deps:
    """The dependencies from the settings (default: the environment), each one replaceable."""
    s = settings if settings is not None else config.settings()
    return Deps(
        settings=s,
        clock=clock if clock is not None else service_clock(s.test_clock),
        zone=ZoneInfo(s.timezone),
        catalog=catalog_ if catalog_ is not None else config.catalog_at(s.catalog),
        uow=uow if uow is not None else DynamoUnitOfWork,
        make_notifier=(lambda: notifier) if notifier is not None else (lambda: for_settings(s)),
    )


_current: Deps | None = None


def use(deps: Deps) -> Deps:
    """Make `deps` the process's composition (app.py, the CLI and the local server at start, a test)."""
    global _current
    _current = deps
    return deps


def current() -> Deps:
    """The process's composition; composed from the environment on first use."""
    return _current if _current is not None else use(compose())


def reset() -> None:
    """Forget the composition, the settings read and the DynamoDB connection: the next use reads the
    environment again (a test that changed it, the CLI before it serves)."""
    global _current
    _current = None
    config.reset_settings()
    plumbing.reset_connection()
