"""scripts/layers.py: the import-order check fails on an upward arrow, on a cycle and on a stale debt."""

from __future__ import annotations

from scripts import layers


def test_an_arrow_down_the_layers_passes() -> None:
    assert layers.check({"api": {"services"}, "services": {"domain", "store"}, "store": {"domain"}},
                        known=frozenset()) == []


def test_an_upward_arrow_fails_naming_it() -> None:
    problems = layers.check({"services": {"api"}, "api": set()}, known=frozenset())
    assert problems == ["services -> api: imports a higher layer"]


def test_a_cycle_inside_one_layer_fails_on_each_arrow() -> None:
    problems = layers.check({"store": {"readmodels"}, "readmodels": {"store"}}, known=frozenset())
    assert problems == ["readmodels -> store: closes a cycle", "store -> readmodels: closes a cycle"]


def test_a_known_debt_passes_but_a_paid_one_must_leave_the_list() -> None:
    assert layers.check({"services": {"api"}, "api": set()}, known=frozenset({("services", "api")})) == []
    assert layers.check({"services": set()}, known=frozenset({("services", "api")})) == [
        "services -> api: listed in KNOWN but gone: remove it"]


def test_the_project_itself_passes() -> None:
    assert layers.check(layers.graph()) == []
