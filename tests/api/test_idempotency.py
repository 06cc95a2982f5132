"""Idempotency-Key on every create and money move of the contract, and advertised exactly there
(issue 7, item 7): a retry with the same key and body answers the first response without acting
again; the same key with another body is 409 `idempotency_key_reused`; an empty key is a 400."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

# The contract's list: accounts, apps, vouchers, topups, purchases, plugins, addons, refunds, trial-extensions.
IDEMPOTENT = {
    ("post", "/v1/accounts"),
    ("post", "/v1/accounts/{account_id}/apps"),
    ("post", "/v1/accounts/{account_id}/vouchers"),
    ("post", "/v1/accounts/{account_id}/topups"),
    ("post", "/v1/apps/{sdkappid}/purchases"),
    ("post", "/v1/apps/{sdkappid}/plugins"),
    ("post", "/v1/apps/{sdkappid}/addons"),
    ("post", "/v1/apps/{sdkappid}/refunds"),
    ("post", "/v1/apps/{sdkappid}/trial-extensions"),
    ("post", "/v1/accounts/{account_id}/renewals"),
    ("post", "/v1/accounts/{account_id}/webhooks"),
    ("post", "/v1/ops/webhooks"),
}


@dataclass
class Case:
    path: str
    body: dict[str, Any] | None
    other: dict[str, Any] | None  # another body for the same key
    effect: Callable[[Any], Any]  # what one action changes (compared before/after the retry)


@pytest.fixture
def world(api):
    """acme with 5000.00, a Standard app (refundable), and an expired Developer app (extendable)."""
    api.clock("2026-01-01T00:00:00Z")
    api.account("acme", cash="5000.00")
    dev = api.app("acme", name="dev")
    paid = api.app("acme", name="paid")
    api.buy(paid, "standard", 3)
    api.clock("2026-02-02T00:00:00Z")
    return {"dev": dev, "paid": paid}


def cases(api, world) -> dict[str, Case]:
    dev, paid = world["dev"], world["paid"]

    def apps(a):
        return a.ok("GET", "/v1/accounts/acme")["apps_count"]

    def ledger(a):
        return len(a.ok("GET", "/v1/accounts/acme/ledger?limit=1000")["items"])

    def orders(a):
        return [o["status"] for o in a.ok("GET", f"/v1/apps/{paid}/orders")["items"]]

    return {
        "accounts": Case("/v1/accounts", {"account_id": "beta", "email": "b@x.test", "phone": "+15550100"},
                         {"account_id": "beta", "email": "c@x.test", "phone": "+15550100"},
                         lambda a: a.call("GET", "/v1/accounts/beta").status),
        "apps": Case("/v1/accounts/acme/apps", {"name": "again", "region": "us"}, {"name": "again", "region": "eu"},
                     apps),
        "vouchers": Case("/v1/accounts/acme/vouchers", {"amount": "5.00"}, {"amount": "6.00"},
                         lambda a: len(a.ok("GET", "/v1/accounts/acme/vouchers")["items"])),
        "topups": Case("/v1/accounts/acme/topups", {"amount": "5.00", "kind": "cash"},
                       {"amount": "5.00", "kind": "gift"}, ledger),
        "purchases": Case(f"/v1/apps/{paid}/purchases", {"edition": "standard", "months": 1},
                          {"edition": "standard", "months": 2}, ledger),
        "plugins": Case(f"/v1/apps/{paid}/plugins", {"plugin": "search", "months": 1},
                        {"plugin": "search", "months": 2}, ledger),
        "addons": Case(f"/v1/apps/{paid}/addons", {"addon": "desk", "months": 1}, {"addon": "desk", "months": 2},
                       ledger),
        "refunds": Case(f"/v1/apps/{paid}/refunds", {}, {"product": "standard"}, orders),
        "trial-extensions": Case(f"/v1/apps/{dev}/trial-extensions", None, None,
                                 lambda a: a.ok("GET", f"/v1/apps/{dev}")["expires_at"]),
    }


@pytest.mark.parametrize("name", ["accounts", "apps", "vouchers", "topups", "purchases", "plugins", "addons",
                                  "refunds", "trial-extensions"])
def test_a_retry_with_the_key_answers_the_first_response_without_acting_again(api, world, name):
    case = cases(api, world)[name]
    first = api.call("POST", case.path, case.body, key=f"k-{name}")
    assert first.status in (200, 201), first.body
    after_first = case.effect(api)
    for _ in range(2):
        again = api.call("POST", case.path, case.body, key=f"k-{name}")
        assert (again.status, again.body) == (first.status, first.body)
    assert case.effect(api) == after_first
    if case.other is not None:
        r = api.call("POST", case.path, case.other, key=f"k-{name}")
        assert (r.status, r.code) == (409, "idempotency_key_reused"), r.body
        assert case.effect(api) == after_first
    # the key is the caller's: without it (or with another key) the request acts (or is refused) anew
    r = api.call("POST", case.path, case.body, key=f"other-{name}")
    assert r.body != first.body


def test_two_apps_are_never_made_from_one_key(api, world):
    before = api.ok("GET", "/v1/accounts/acme")["apps_count"]
    bodies = [api.call("POST", "/v1/accounts/acme/apps", {"name": "once", "region": "us"}, role="customer",
                       account="acme", key="app-1").body for _ in range(3)]
    assert bodies[0] == bodies[1] == bodies[2]
    assert api.ok("GET", "/v1/accounts/acme")["apps_count"] == before + 1
    # the same key from the operator is another caller's key
    r = api.call("POST", "/v1/accounts/acme/apps", {"name": "once", "region": "us"}, key="app-1")
    assert r.status == 201 and r.body["sdkappid"] != bodies[0]["sdkappid"]


def test_a_refused_request_is_not_recorded_under_its_key(api, world):
    body = {"account_id": "acme", "email": "a@x.test", "phone": "+15550100"}
    assert api.call("POST", "/v1/accounts", body, key="dup").code == "conflict"
    assert api.call("POST", "/v1/accounts", {**body, "account_id": "gamma"}, key="dup").status == 201


@pytest.mark.parametrize("key", ["", " ", "k" * 256, "tab\tkey", "ключ"])
def test_a_malformed_key_is_400_and_acts_not(api, world, key):
    r = api.call("POST", "/v1/accounts/acme/topups", {"amount": "5.00", "kind": "cash"},
                 headers={"Idempotency-Key": key})
    assert (r.status, r.code) == (400, "invalid_request"), r.body
    assert api.balance()["cash"] == "3803.00"  # 5000 - 3 x 399 for the Standard months


def test_the_document_advertises_the_key_exactly_where_it_is_honoured(api):
    doc = api.ok("GET", "/v1/openapi.json", role=None)
    advertised = {
        (method, path)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
    }
    assert advertised == IDEMPOTENT
    header = next(p for p in doc["paths"]["/v1/accounts"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert header["required"] is False and header["schema"]["minLength"] == 1 and header["schema"]["maxLength"] == 255
    for method, path in IDEMPOTENT:
        assert "409" in doc["paths"][path][method]["responses"]
