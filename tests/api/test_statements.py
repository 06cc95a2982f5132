"""GET /v1/accounts/{id}/statements/{YYYY-MM} (JSON and ?format=csv), and the ledger and bills by date range
(?from=&to=, ?order=newest): exact amounts; opening + the month's entries = closing."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest


@pytest.fixture
def months(api):
    """acme: 1,000.00 cash in May; May's search overage billed 12.00 on June 1; 50.00 gift on June 10."""
    api.clock("2026-05-20T10:00:00Z")
    api.account("acme", cash="1000.00")
    sid = api.app("acme")
    api.ok("POST", "/v1/usage/search", {"sdkappid": sid, "stored_messages": 1_560_001, "requests": 0},
           expect=200, role="service")
    api.clock("2026-06-01T02:00:00Z")
    assert api.ok("POST", "/v1/jobs/monthly-settlement/runs", {"at": "2026-06-01T02:00:00Z"},
                  expect=200)["summary"].get("billed") == 1
    api.clock("2026-06-10T00:00:00Z")
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "50.00", "kind": "gift"})
    return sid


def _statement(api, month, account="acme", **kw):
    return api.ok("GET", f"/v1/accounts/{account}/statements/{month}", role="customer", account=account, **kw)


def test_a_months_statement_reconciles_opening_entries_and_closing(api, months):
    may = _statement(api, "2026-05")
    assert (may["opening"], may["moved"], may["closing"]) == (
        {"cash": "0.00", "gift": "0.00", "total": "0.00"},
        {"cash": "1000.00", "gift": "0.00", "total": "1000.00"},
        {"cash": "1000.00", "gift": "0.00", "total": "1000.00"})
    assert [(e["kind"], e["cash"]) for e in may["entries"]] == [("topup", "1000.00")]
    assert may["bills"] == []  # May's bill is posted in June
    assert (may["starts_at"], may["ends_at"], may["zone"]) == ("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", "UTC")

    june = _statement(api, "2026-06")
    assert (june["opening"]["total"], june["moved"], june["closing"]) == (
        "1000.00", {"cash": "-12.00", "gift": "50.00", "total": "38.00"},
        {"cash": "988.00", "gift": "50.00", "total": "1038.00"})
    assert [(e["kind"], e["cash"], e["gift"]) for e in june["entries"]] == [
        ("bill", "-12.00", "0.00"), ("topup", "0.00", "50.00")]
    assert [(b["period"], b["total"], [li["item"] for li in b["lines"]]) for b in june["bills"]] == [
        ("2026-05", "12.00", ["search_storage_overage"])]
    assert june["closing"] == api.balance()

    quiet = _statement(api, "2026-08")  # nothing moved: opening = closing = the balance before
    assert quiet["entries"] == [] and quiet["opening"] == quiet["closing"] == api.balance()
    assert _statement(api, "2026-04")["closing"] == {"cash": "0.00", "gift": "0.00", "total": "0.00"}


def test_the_statement_csv_adds_up_to_the_balances(api, months):
    r = api.call("GET", "/v1/accounts/acme/statements/2026-06?format=csv", role="customer", account="acme")
    assert r.status == 200
    text = r.body.decode() if isinstance(r.body, bytes) else r.body
    rows = list(csv.DictReader(io.StringIO(text)))
    opening = next(x for x in rows if x["record"] == "opening")
    closing = next(x for x in rows if x["record"] == "closing")
    entries = [x for x in rows if x["record"] == "entry"]
    for kind in ("cash", "gift"):
        total = Decimal(opening[f"balance_{kind}"]) + sum(Decimal(x[kind]) for x in entries)
        assert total == Decimal(closing[f"balance_{kind}"]) == Decimal(api.balance()[kind])
    assert [(x["kind"], x["amount"]) for x in rows if x["record"] == "bill_line"] == [("monthly 2026-05", "12.00")]


def test_ledger_and_bills_by_date_range_and_newest_first(api, months):
    june = api.ok("GET", "/v1/accounts/acme/ledger?from=2026-06-01&to=2026-06-30")["items"]
    assert [e["kind"] for e in june] == ["bill", "topup"]
    assert [e["kind"] for e in api.ok("GET", "/v1/accounts/acme/ledger?to=2026-06-01T00:00:00Z")["items"]] == ["topup"]
    newest = api.ok("GET", "/v1/accounts/acme/ledger?order=newest&limit=1")
    assert [e["gift"] for e in newest["items"]] == ["50.00"] and newest["next_token"]
    rest = api.ok("GET", f"/v1/accounts/acme/ledger?order=newest&limit=5&next_token={newest['next_token']}")
    assert [e["kind"] for e in rest["items"]] == ["bill", "topup"] and rest["next_token"] is None
    assert [b["period"] for b in api.ok("GET", "/v1/accounts/acme/bills?from=2026-06-01")["items"]] == ["2026-05"]
    assert api.ok("GET", "/v1/accounts/acme/bills?to=2026-05-31")["items"] == []


@pytest.mark.parametrize("query, field", [
    ("from=", "from"), ("to=", "to"), ("from=yesterday", "from"), ("to=2026-02-30", "to"),
    ("from=2026-06-02&to=2026-06-01", "from"), ("order=sideways", "order"),
])
def test_bad_date_ranges_are_400_naming_the_field(api, months, query, field):
    for path in ("ledger", "bills"):
        if path == "bills" and field == "order":
            continue
        r = api.call("GET", f"/v1/accounts/acme/{path}?{query}")
        assert r.status == 400 and r.body["error"]["message"].startswith(field), (path, query, r.body)


def test_statement_refusals(api, months):
    assert api.call("GET", "/v1/accounts/acme/statements/2026-13").status == 400
    assert api.call("GET", "/v1/accounts/acme/statements/9999-12").status == 400
    assert api.call("GET", "/v1/accounts/acme/statements/2026-06?format=pdf").status == 400
    api.account("beta")
    r = api.call("GET", "/v1/accounts/acme/statements/2026-06", role="customer", account="beta")
    assert r.status == 404
    assert api.call("GET", "/v1/accounts/nobody/statements/2026-06").status == 404
