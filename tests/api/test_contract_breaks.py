"""The contract at its edges (issue 20): each test here failed on the service before it.

Empty and unknown query values, unknown body fields, unknown accounts under every list, ids
checked after percent-decoding, exact JSON numbers, UTF-8 only, the document following the
service (clock routes, the revenue limit), X-Request-Id on every answer, and the ledger's
instants in order while the test clock moves."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime

import pytest

from tests.helpers import assert_error


def test_empty_query_values_are_a_400_naming_the_field(api):
    sid = api.paid_app("2026-03-01T00:00:00Z", "399.00")
    for path, field in [
        ("/v1/ops/due?before=", "before"),
        ("/v1/ops/revenue?from=&to=", "from"),
        ("/v1/ops/revenue?from=2026-01&to=", "to"),
        (f"/v1/apps/{sid}/usage?month=", "month"),
        ("/v1/accounts?status=", "status"),
        ("/v1/ops/notifications?status=", "status"),
        (f"/v1/apps/{sid}/refund-quote?product=", "product"),
        ("/v1/accounts/acme/bills?period=", "period"),
        ("/v1/accounts/acme/ledger?limit=", "limit"),
    ]:
        r = api.call("GET", path)
        assert_error(r, 400, "invalid_request")
        assert r.body["error"]["message"].startswith(f"{field} is empty"), (path, r.body)
    doc = api.ok("GET", "/v1/openapi.json", role=None)  # the document says so: no string query value is empty
    strings = [p["schema"] for ops in doc["paths"].values() for op in ops.values() for p in op.get("parameters", [])
               if p["in"] == "query" and p["schema"].get("type") == "string"]
    assert strings and all(s.get("minLength", 0) >= 1 for s in strings)


def test_unknown_query_parameters_are_a_400_naming_them(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    for path, name in [("/v1/accounts/acme/ledger?bogus=1", "bogus"), ("/v1/accounts/acme?expand=apps", "expand"),
                       ("/v1/ops/revenue?from=2026-01&month=2026-02", "month")]:
        r = api.call("GET", path)
        assert_error(r, 400, "invalid_request")
        assert r.body["error"]["message"].startswith(f"{name}: unknown query parameter"), r.body


def test_unknown_body_fields_are_a_400_naming_them_and_change_nothing(api):
    api.clock("2026-03-01T00:00:00Z")
    r = api.call("POST", "/v1/test/clock/advance", {"weeks": 1})
    assert_error(r, 400, "invalid_request")
    assert r.body["error"]["message"].startswith("weeks: unknown field"), r.body
    assert api.ok("GET", "/v1/test/clock")["now"] == "2026-03-01T00:00:00Z"
    r = api.call("POST", "/v1/accounts", {"account_id": "acme", "email": "a@x.test", "phone": "+15550100",
                                          "currency": "EUR"})
    assert_error(r, 400, "invalid_request")
    assert "currency" in r.body["error"]["message"]
    assert api.call("GET", "/v1/accounts/acme").status == 404


@pytest.mark.parametrize("amount", ["100.0000000000000000001", "99.999", "1e-7", "1.5E0", "-100"])
def test_a_json_number_with_a_fraction_is_a_400_never_rounded(api, amount):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    raw = b'{"amount": %s, "kind": "cash"}' % amount.encode()  # the JSON text as sent (Python would round it)
    r = api.call("POST", "/v1/accounts/acme/topups", raw=raw)
    assert_error(r, 400, "invalid_request")
    assert api.ok("GET", "/v1/accounts/acme")["balance"] == {"cash": "0.00", "gift": "0.00", "total": "0.00"}


def test_whole_json_numbers_stay_accepted_exactly(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    api.call("POST", "/v1/accounts/acme/topups", raw=b'{"amount": 100.0, "kind": "cash"}')
    api.call("POST", "/v1/accounts/acme/topups", raw=b'{"amount": 1E+2, "kind": "gift"}')
    assert api.ok("GET", "/v1/accounts/acme")["balance"] == {"cash": "100.00", "gift": "100.00", "total": "200.00"}
    r = api.call("POST", "/v1/accounts/acme/topups", raw=b'{"amount": NaN, "kind": "cash"}')
    assert_error(r, 400, "invalid_request")


def test_a_body_not_in_utf8_is_a_400(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    body = '{"amount": "5.00", "kind": "cash"}'
    for raw in (body.encode("utf-16"), body.encode("utf-16-le"), body.encode("utf-32")):
        r = api.call("POST", "/v1/accounts/acme/topups", raw=raw)
        assert_error(r, 400, "invalid_request")
    assert api.ok("GET", "/v1/accounts/acme")["balance"]["total"] == "0.00"


def test_every_list_under_an_unknown_account_is_a_404(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")  # known, with empty lists: those stay 200 []
    for sub in ("ledger", "apps", "bills", "vouchers", "notifications"):
        assert_error(api.call("GET", f"/v1/accounts/nosuch/{sub}"), 404, "not_found")
        assert api.ok("GET", f"/v1/accounts/acme/{sub}")["items"] == ([] if sub != "ledger" else [])


def test_path_ids_are_percent_decoded_then_checked_against_the_documented_pattern(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    assert api.ok("GET", "/v1/accounts/ac%6De")["account_id"] == "acme"  # %6D is m
    assert api.ok("GET", "/v1/accounts/%61cme/ledger")["items"] == []
    for bad in ("bad%20id", "a%2Fb", "caf%C3%A9", "x%00y", "%FF"):
        for path in (f"/v1/accounts/{bad}", f"/v1/accounts/{bad}/ledger", f"/v1/accounts/{bad}/apps"):
            assert_error(api.call("GET", path), 400, "invalid_request")


def test_the_document_omits_the_clock_routes_when_the_clock_is_off(api):
    from chalicelib import bootstrap

    assert "/v1/test/clock" in api.ok("GET", "/v1/openapi.json", role=None)["paths"]
    deps = bootstrap.current()
    off = dataclasses.replace(deps, settings=deps.settings.model_copy(update={"test_clock": False}))
    bootstrap.use(off)
    try:
        paths = api.ok("GET", "/v1/openapi.json", role=None)["paths"]
        assert not [p for p in paths if p.startswith("/v1/test/")] and "/v1/accounts" in paths
        assert_error(api.call("GET", "/v1/test/clock"), 404, "not_found")
    finally:
        bootstrap.use(deps)


def test_the_revenue_views_120_month_limit_is_in_the_document(api):
    doc = api.ok("GET", "/v1/openapi.json", role=None)
    op = doc["paths"]["/v1/ops/revenue"]["get"]
    assert "at most 120 months" in op["summary"]
    to = next(p for p in op["parameters"] if p["name"] == "to")
    assert "at most 120 months" in to["schema"]["description"]
    api.clock("2026-03-01T00:00:00Z")
    assert api.call("GET", "/v1/ops/revenue?from=2016-03&to=2026-02").status == 200  # 120 months
    r = api.call("GET", "/v1/ops/revenue?from=2016-02&to=2026-02")  # 121
    assert_error(r, 400, "invalid_request")
    assert "120 months" in r.body["error"]["message"]


def test_every_answer_carries_a_request_id(api):
    ids = set()
    for method, path in (("GET", "/v1/openapi.json"), ("GET", "/v1/accounts/nosuch"), ("POST", "/v1/accounts")):
        r = api.client.http.request(method, path, headers={"Content-Type": "application/json"}, body=b"{}")
        assert len(r.headers["X-Request-Id"]) >= 16, (path, r.headers)
        ids.add(r.headers["X-Request-Id"])
    assert len(ids) == 3


def test_a_write_during_a_clock_move_waits_for_it_and_is_stamped_after_it(api):
    """The ledger's instants never go back: a top-up sent while the clock moves from 03-01 to
    03-07 is not stamped 03-01 (the clock the move has not yet written) after the move's bills."""
    from chalicelib.clock import StoredClock
    from chalicelib.gate import MOVES

    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    answers = []
    with MOVES.move():  # a move in progress (its jobs would write entries up to 03-07)
        writer = threading.Thread(target=lambda: answers.append(
            api.call("POST", "/v1/accounts/acme/topups", {"amount": "5.00", "kind": "cash"})))
        writer.start()
        time.sleep(0.3)
        assert writer.is_alive() and answers == []  # it waits for the move
        StoredClock().set(datetime(2026, 3, 7, tzinfo=UTC))
    writer.join(10)
    assert answers[0].status == 201 and answers[0].body["entry"]["at"] == "2026-03-07T00:00:00Z"


def test_a_write_that_waits_too_long_for_a_move_is_503_busy(api, monkeypatch):
    from chalicelib.api import http
    from chalicelib.gate import MOVES

    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    monkeypatch.setattr(http, "MOVE_WAIT_S", 0.05)
    with MOVES.move():
        r = api.call("POST", "/v1/accounts/acme/topups", {"amount": "5.00", "kind": "cash"})
        assert api.call("GET", "/v1/accounts/acme").status == 200  # reads do not wait
    assert_error(r, 503, "busy")
    assert api.ok("GET", "/v1/accounts/acme")["balance"]["total"] == "0.00"
