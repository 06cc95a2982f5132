"""The test clock skips runs with nothing due, by each job's `next_due` hint; after a run that did
work it asks again only the hints of the jobs that run declares it `affects`. A wrong declaration
would skip due work, so: 130 days of each scenario below, advanced with the targeted refresh and
again refreshing every hint after every working run, end in the same state."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.clock import StoredClock
from chalicelib.domain.calendar import parse_instant
from chalicelib.jobs import runner
from chalicelib.store.models import ALL_MODELS, MetaModel
from chalicelib.store.tables import create_tables, delete_tables

START = "2026-01-20T09:00:00Z"
RANDOM_ID_PART = re.compile(r"\b(o\d{20}[0-9a-f]*?)[0-9a-f]{6}\b")  # order ids end in 6 random hex digits


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
    """Every item of every table but the clock, serialized, random id parts blanked."""
    return {
        model.Meta.base_name: sorted(RANDOM_ID_PART.sub(r"\1", json.dumps(m.serialize(), sort_keys=True))
                                     for m in model.scan())
        for model in ALL_MODELS if model is not MetaModel
    }


def advance(api, scenario, targeted: bool) -> tuple[dict[str, list[str]], list[dict]]:
    delete_tables()
    create_tables()
    StoredClock().set(parse_instant("2025-01-01T00:00:00Z"))  # as the api fixture starts
    api.clock(START)
    scenario(api)
    start = parse_instant(START)
    runs = runner.run_between(start, start + timedelta(days=130), ZoneInfo("UTC"), StoredClock().set,
                              targeted=targeted)
    worked = [r for r in runs if any(v for k, v in r["summary"].items() if k not in runner.IDLE)]
    return state(), worked


@pytest.mark.parametrize(("scenario", "jobs"), [
    (expiries, {"expiry-warnings", "expiry-enforcement", "reclamation", "monthly-settlement"}),
    (arrears, {"push-quota-billing", "arrears-enforcement", "reclamation"}),
])
def test_refreshing_only_the_affected_hints_skips_no_work(api, scenario, jobs):
    targeted, targeted_work = advance(api, scenario, targeted=True)
    everything, all_work = advance(api, scenario, targeted=False)
    assert targeted_work == all_work
    assert targeted == everything
    assert {r["job"] for r in targeted_work} >= jobs
