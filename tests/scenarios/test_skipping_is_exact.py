"""The test clock skips runs with nothing due, by each job's `next_due` hint; during a move the
hints answer from memory (store/dynamodb/watch.py) until a write could change them. A wrong memory would
skip due work, so: 130 days of each scenario below, advanced remembering the hints and again
asking the store for every hint after every run, end in the same state with the same runs; and
the push-quota job's hint (the first day with a quota above 100) skips nothing a run at every
instant does."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.clock import StoredClock
from chalicelib.domain.calendar import parse_instant
from chalicelib.jobs import runner
from chalicelib.store.dynamodb.models import EventModel, MetaModel
from chalicelib.store.dynamodb.tables import ALL_MODELS, create_tables, delete_tables
from tests.composed import contexts

START = "2026-01-20T09:00:00Z"
RANDOM_ID_PART = re.compile(r"\b(o\d{20}[0-9a-f]*?)[0-9a-f]{6}\b")  # order ids end in 6 random hex digits

pytestmark = pytest.mark.fresh_tables  # makes the tables again


def expiries(api) -> None:
    """Renewals until the money runs out, expiries, warnings, stops and reclamations, a monthly bill."""
    api.account("acme", cash="1500.00", gift="100.00")
    renewing = api.app(name="renewing")
    api.buy(renewing, "standard", 1, auto_renew=True)
    pro = api.app(name="pro")
    api.buy(pro, "pro", 1)  # expires Feb 20, warned, stopped, reclaimed 90 days later
    api.app(name="developer")  # the same on Developer
    api.plugin(renewing, "push")
    api.ok("POST", "/v1/usage/push", {"sdkappid": renewing, "broadcast_calls": 1, "messages": 30_010_000},
           expect=200, role="service")  # January's monthly bill: 0.10


def arrears(api) -> None:
    """Daily push bills run the balance below zero: arrears, a stop 24 h later, a reclamation."""
    api.account("poor", cash="900.00")  # 202.00 left: below zero on the 21st daily bill
    poor = api.app("poor", name="poor")
    api.buy(poor, "standard", 1)
    api.plugin(poor, "push")
    api.ok("PUT", f"/v1/apps/{poor}/plugins/push/quota", {"daily_broadcast_calls": 101})  # 10.00 a day


def state() -> dict[str, list[str]]:
    """Every item of every table but the clock, serialized, random id parts blanked (and an event's
    own id and request id: new on every run)."""
    def item(m: object) -> str:
        raw = m.serialize()  # type: ignore[attr-defined]
        if isinstance(m, EventModel):
            raw = {k: v for k, v in raw.items() if k not in ("event_id", "request_id")}
        return RANDOM_ID_PART.sub(r"\1", json.dumps(raw, sort_keys=True))

    return {model.Meta.base_name: sorted(item(m) for m in model.scan())
            for model in ALL_MODELS if model is not MetaModel}


def quota_toggled(api) -> None:
    """A quota above 100 for one hour of January 20: one bill, then the app leaves the index."""
    api.account("toggle", cash="900.00")
    sid = api.app("toggle", name="toggle")
    api.buy(sid, "standard", 1)
    api.plugin(sid, "push")
    api.ok("PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 101})
    api.clock("2026-01-20T10:00:00Z")
    api.ok("PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 100})


def advance(api, scenario, days: int = 130, **how) -> tuple[dict[str, list[str]], list[dict]]:
    delete_tables()
    create_tables()
    StoredClock().set(parse_instant("2025-01-01T00:00:00Z"))  # as the api fixture starts
    api.clock(START)
    scenario(api)
    start = StoredClock().now()
    moved = runner.run_between(start, start + timedelta(days=days), contexts(ZoneInfo("UTC")), **how)
    return state(), moved.jobs_run


@pytest.mark.heavy
@pytest.mark.parametrize(("scenario", "jobs"), [
    (expiries, {"expiry-warnings", "expiry-enforcement", "reclamation", "monthly-settlement"}),
    (arrears, {"push-quota-billing", "arrears-enforcement", "reclamation"}),
])
def test_remembered_hints_skip_no_work(api, scenario, jobs):
    remembered, remembered_work = advance(api, scenario)
    asked, asked_work = advance(api, scenario, remember=False)
    assert remembered_work == asked_work
    assert remembered == asked
    assert {r["job"] for r in remembered_work} >= jobs


@pytest.mark.heavy
def test_push_quota_hint_skips_no_bill(api):
    skipped, skipped_work = advance(api, quota_toggled, days=6)
    every, every_work = advance(api, quota_toggled, days=6, skip=False)
    assert skipped_work == every_work
    assert skipped == every
    push = [(r["at"], r["summary"]["billed"], r["summary"]["released"])
            for r in skipped_work if r["job"] == "push-quota-billing"]
    assert push == [("2026-01-21T00:30:00Z", 1, 0), ("2026-01-22T00:30:00Z", 0, 1)]
