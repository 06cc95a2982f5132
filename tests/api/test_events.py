"""The events contract: every state-changing endpoint and job writes exactly one event of its type,
actor and data per committed change, in the change's transaction; a refused call (4xx), an
idempotent replay and a lost race write none. Also the events API (newest first, paged, a customer's
view) and the audit log, and operator tokens that name a person."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.api.auth import mint_token
from chalicelib.store.dynamodb.models import EventModel
from tests.helpers import Api

ADA = "ada"


class Feed:
    """The events written since the last look (read from the table: what was committed)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def new(self) -> list[dict[str, Any]]:
        from chalicelib.services.events import as_dict

        fresh = sorted((e for e in EventModel.scan() if e.event_id not in self.seen), key=lambda e: e.event_id)
        self.seen |= {e.event_id for e in fresh}
        return [as_dict(e) for e in fresh]


def ada(api: Api, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
    """A call by the operator named ada."""
    token = api.tokens.setdefault(("operator-named", ADA), mint_token("operator", name=ADA))
    return api.call(method, path, body, role=None, key=key, headers={"Authorization": f"Bearer {token}"})


def one(feed: Feed, type_: str, actor: dict[str, str], data: Any, *, account: str | None,
        sdkappid: int | None = None) -> dict[str, Any]:
    """Exactly one new event, of this type, actor and data (and a request id: an API call)."""
    (event,) = feed.new()
    assert (event["type"], event["actor"], event["account_id"], event["sdkappid"]) == \
        (type_, actor, account, sdkappid), event
    assert event["data"] == data, (event["data"], data)
    assert event["request_id"]
    return event


def none(feed: Feed) -> None:
    assert feed.new() == []


OPERATOR_ADA = {"role": "operator", "sub": ADA}
CUSTOMER = {"role": "customer", "sub": "acme"}


def customer(api: Api, method: str, path: str, body: Any = None, account: str = "acme", **kw: Any) -> Any:
    return api.call(method, path, body, role="customer", account=account, **kw)


def run_job(api: Api, feed: Feed, job: str, at: str, types: list[str]) -> list[dict[str, Any]]:
    """Run one job as of `at` (the clock moved there first, no job in between): its events are
    exactly `types`, each with the job as its system actor and no request id."""
    api.clock(at)
    feed.new()
    api.ok("POST", f"/v1/jobs/{job}/runs", {"at": at}, expect=200)
    found = feed.new()
    assert sorted(e["type"] for e in found) == sorted(types), found
    for e in found:
        assert e["actor"] == {"role": "system", "sub": job} and e["request_id"] is None, e
    return found


def test_every_change_writes_exactly_one_event(api: Api) -> None:
    feed = Feed()
    api.clock("2026-03-01T00:00:00Z")
    feed.new()

    # ---- accounts, top-ups, vouchers (operator ada)
    r = ada(api, "POST", "/v1/accounts", {"account_id": "acme", "email": "a@x.test", "phone": "+15550100"})
    assert r.status == 201
    one(feed, "account.created", OPERATOR_ADA, r.body, account="acme")
    r = ada(api, "POST", "/v1/accounts/acme/topups", {"amount": "5000.00", "kind": "cash"})
    one(feed, "account.topped_up", OPERATOR_ADA, r.body, account="acme")
    r = ada(api, "POST", "/v1/accounts/acme/vouchers", {"amount": "10.00"})
    one(feed, "voucher.granted", OPERATOR_ADA, r.body, account="acme")

    # ---- refused calls write nothing
    assert ada(api, "POST", "/v1/accounts", {"account_id": "acme", "email": "a@x.test", "phone": "+1555"}).status == 409
    assert ada(api, "POST", "/v1/accounts/acme/topups", {"amount": "1.001", "kind": "cash"}).status == 400
    assert customer(api, "POST", "/v1/accounts/other/apps", {"name": "x", "region": "us"}).status == 404
    none(feed)

    # ---- apps and packages (the customer)
    r = customer(api, "POST", "/v1/accounts/acme/apps", {"name": "chat", "region": "us"})
    sid = r.body["sdkappid"]
    one(feed, "app.created", CUSTOMER, r.body, account="acme", sdkappid=sid)
    r = customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1}, key="k1")
    one(feed, "package.purchased", CUSTOMER, r.body, account="acme", sdkappid=sid)
    again = customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1}, key="k1")
    assert (again.status, again.body) == (201, r.body)
    none(feed)  # an idempotent replay acts (and announces) nothing
    r = customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "pro", "months": 1})
    one(feed, "package.upgraded", CUSTOMER, r.body, account="acme", sdkappid=sid)
    r = customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "pro", "months": 1})
    one(feed, "package.renewed", CUSTOMER, r.body, account="acme", sdkappid=sid)
    assert customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1}).status == 409
    assert customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "pro", "months": 24}).status == 402
    none(feed)
    r = customer(api, "PUT", f"/v1/apps/{sid}/auto-renew", {"enabled": True})
    one(feed, "package.renewal_mode_changed", CUSTOMER, r.body, account="acme", sdkappid=sid)
    r = customer(api, "POST", f"/v1/apps/{sid}/plugins", {"plugin": "search", "months": 1})
    one(feed, "package.purchased", CUSTOMER, r.body, account="acme", sdkappid=sid)
    r = customer(api, "POST", f"/v1/apps/{sid}/refunds", {"product": "search"})
    one(feed, "package.refunded", CUSTOMER, r.body, account="acme", sdkappid=sid)

    # a second app: refunded (disabled), then deleted at once
    sid2 = customer(api, "POST", "/v1/accounts/acme/apps", {"name": "two", "region": "us"}).body["sdkappid"]
    customer(api, "POST", f"/v1/apps/{sid2}/purchases", {"edition": "standard", "months": 1})
    feed.new()
    assert customer(api, "DELETE", f"/v1/apps/{sid2}").status == 409  # not disabled yet
    none(feed)
    customer(api, "POST", f"/v1/apps/{sid2}/refunds", {})
    feed.new()
    r = ada(api, "DELETE", f"/v1/apps/{sid2}")
    assert r.status == 200
    one(feed, "app.reclaimed", OPERATOR_ADA, r.body, account="acme", sdkappid=sid2)

    # ---- beta: a push quota billed into arrears, stopped, back; Developer apps warned, stopped, reclaimed
    ada(api, "POST", "/v1/accounts", {"account_id": "beta", "email": "b@x.test", "phone": "+15550101"})
    ada(api, "POST", "/v1/accounts/beta/topups", {"amount": "300.00", "kind": "cash"})
    b = api.app("beta", "b")
    c = api.app("beta", "c")
    api.plugin(b, "push")
    feed.new()
    r = api.call("PUT", f"/v1/apps/{b}/plugins/push/quota", {"daily_broadcast_calls": 200})
    one(feed, "plugin.quota_changed", {"role": "operator", "sub": "operator"}, r.body, account="beta", sdkappid=b)

    (started,) = run_job(api, feed, "push-quota-billing", "2026-03-02T00:30:00Z", ["account.arrears_started"])
    account = api.ok("GET", "/v1/accounts/beta")
    bills = api.ok("GET", "/v1/accounts/beta/bills")["items"]
    assert started["data"] == {"account": account, "bill": bills[0]} and account["status"] == "arrears"
    assert bills[0]["total"] == "1000.00"
    api.call("PUT", f"/v1/apps/{b}/plugins/push/quota", {"daily_broadcast_calls": 100})
    feed.new()

    stops = run_job(api, feed, "arrears-enforcement", "2026-03-03T01:15:00Z", ["app.stopped", "app.stopped"])
    assert {e["sdkappid"] for e in stops} == {b, c}
    for e in stops:
        assert e["data"]["status"] == "stopped" and e["data"]["stop_reason"] == "arrears"
    r = ada(api, "POST", "/v1/accounts/beta/topups", {"amount": "2000.00", "kind": "cash"})
    one(feed, "account.arrears_ended", OPERATOR_ADA, r.body, account="beta")
    assert api.ok("GET", f"/v1/apps/{b}")["status"] == "enabled"

    warned = run_job(api, feed, "expiry-warnings", "2026-03-26T01:00:00Z", ["app.expiry_warning"] * 2)
    assert {e["sdkappid"] for e in warned} == {b, c}
    run_job(api, feed, "expiry-enforcement", "2026-04-02T00:05:00Z", ["app.stopped", "app.stopped"])
    api.clock("2026-04-05T00:00:00Z")
    feed.new()
    r = customer(api, "POST", f"/v1/apps/{c}/trial-extensions", account="beta")
    one(feed, "app.trial_extended", {"role": "customer", "sub": "beta"}, r.body, account="beta", sdkappid=c)
    (renewed,) = run_job(api, feed, "expiry-enforcement", "2026-05-01T00:05:00Z", ["package.renewed"])
    assert renewed["sdkappid"] == sid and renewed["data"]["order"]["kind"] == "auto_renewal"
    assert renewed["data"]["app"] == api.ok("GET", f"/v1/apps/{sid}")
    (reclaimed,) = run_job(api, feed, "reclamation", "2026-07-01T03:00:00Z", ["app.reclaimed"])
    assert reclaimed["sdkappid"] == b and reclaimed["data"] == api.ok("GET", f"/v1/apps/{b}")
    run_job(api, feed, "reclamation", "2026-07-01T03:00:00Z", [])  # a rerun changes (and announces) nothing


def test_events_api_newest_first_paged_and_a_customers_view(api: Api) -> None:
    api.clock("2026-03-01T00:00:00Z")
    ada(api, "POST", "/v1/accounts", {"account_id": "acme", "email": "a@x.test", "phone": "+15550100"})
    ada(api, "POST", "/v1/accounts/acme/topups", {"amount": "100.00", "kind": "cash"})
    api.clock("2026-03-02T00:00:00Z")
    api.account("zeta")
    sid = int(customer(api, "POST", "/v1/accounts/acme/apps", {"name": "chat", "region": "us"}).body["sdkappid"])

    everything = api.ok("GET", "/v1/events")["items"]
    assert [e["type"] for e in everything] == ["app.created", "account.created", "account.topped_up",
                                               "account.created"]
    pages, token = [], None
    while True:
        page = api.ok("GET", "/v1/events?limit=1" + (f"&next_token={token}" if token else ""))
        pages += page["items"]
        token = page["next_token"]
        if token is None:
            break
    assert pages == everything

    mine = customer(api, "GET", "/v1/events").body["items"]
    assert [e["type"] for e in mine] == ["app.created", "account.topped_up", "account.created"]
    assert mine[1]["actor"] == {"role": "operator"} and mine[0]["actor"] == CUSTOMER
    assert customer(api, "GET", "/v1/events?account_id=zeta").status == 404
    assert customer(api, "GET", "/v1/events?actor=ada").status == 403
    assert [e["type"] for e in customer(api, "GET", f"/v1/events?sdkappid={sid}").body["items"]] == ["app.created"]
    assert [e["type"] for e in api.ok("GET", "/v1/events?type=account.created")["items"]] == ["account.created"] * 2
    assert api.ok("GET", "/v1/events?account_id=acme&to=2026-03-01T12:00:00Z")["items"][0]["type"] == \
        "account.topped_up"
    assert api.call("GET", "/v1/events?type=nope").status == 400
    # bounds in any zone and year: clamped to 2000..9999 (UTC); the day feed spans at most 92 days
    assert api.call("GET", "/v1/events?from=0323-05-05T19:27:54.5-05:06").status == 400
    assert len(api.ok("GET", "/v1/events?account_id=acme&from=0323-05-05T19:27:54.5-05:06")["items"]) == 3
    assert api.ok("GET", "/v1/events?to=0243-07-19T23:37:12.469-22:00")["items"] == []
    assert [e["type"] for e in api.ok("GET", "/v1/events?to=2026-03-02T07:59:00%2B08:00")["items"]] == \
        ["account.topped_up", "account.created"]  # 2026-03-01T23:59Z: before the second day

    audit = api.ok("GET", "/v1/ops/audit?actor=ada")["items"]
    assert [(e["type"], e["actor"]) for e in audit] == [("account.topped_up", OPERATOR_ADA),
                                                         ("account.created", OPERATOR_ADA)]
    assert len(api.ok("GET", "/v1/ops/audit")["items"]) == 4
    assert customer(api, "GET", "/v1/ops/audit").status == 403


def test_an_operator_token_without_a_name_is_refused_outside_local(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.api import auth
    from chalicelib.domain.errors import Unauthorized

    named, unnamed = mint_token("operator", name="ada"), mint_token("operator")
    assert auth.principal_from_header(f"Bearer {unnamed}").sub == "operator"  # local: allowed

    class Dev:
        stage = "dev"

    monkeypatch.setattr(auth, "settings", lambda: Dev())
    assert auth.principal_from_header(f"Bearer {named}").sub == "ada"
    with pytest.raises(Unauthorized, match="name"):
        auth.principal_from_header(f"Bearer {unnamed}")


def test_the_openapi_document_lists_every_event_type_with_its_data_schema(api: Api) -> None:
    from chalicelib.services.events import TYPES

    doc = api.ok("GET", "/v1/openapi.json", role=None, expect=200)
    assert set(doc["webhooks"]) == set(TYPES)
    for kind, name in TYPES.items():
        body = doc["webhooks"][kind]["post"]["requestBody"]["content"]["application/json"]["schema"]
        typed = body["allOf"][1]["properties"]
        assert typed["type"] == {"const": kind}
        assert typed["data"] == {"$ref": f"#/components/schemas/{name}"} and name in doc["components"]["schemas"]
    assert doc["paths"]["/v1/events"]["get"]["responses"]["200"]
    assert doc["paths"]["/v1/ops/audit"]["get"]["x-roles"] == ["operator"]


def test_imbill_events_tail_prints_the_last_events_then_follows(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from chalicelib.cli import cli

    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="10.00")
    calls: list[str] = []

    def transport(method: str, path: str, body: Any = None, headers: Any = None) -> tuple[int, Any]:
        calls.append(path)
        if len(calls) == 2:  # between the first poll and the second: a new change
            ada(api, "POST", "/v1/accounts/acme/vouchers", {"amount": "5.00"})
            api.ok("POST", "/v1/accounts/acme/topups", {"amount": "1.00", "kind": "gift"})
        r = api.call(method, path)
        return r.status, r.body

    from chalicelib import cli_client
    monkeypatch.setattr(cli_client, "transport", transport)
    out = CliRunner().invoke(cli, ["events", "tail", "--type", "account.created", "--type", "voucher.granted",
                                   "--polls", "2", "--interval", "0.05"], env={"IMBILL_TOKEN": "x"})
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert [ln.split()[1] for ln in lines] == ["account.created", "voucher.granted"]
    assert "account_id=acme" in lines[1] and "by operator:ada" in lines[1]
    assert "from=" in calls[1]  # the second poll asks only from the last event seen


def test_account_controls_and_batch_renewals_write_their_events(api: Api) -> None:
    """Issue 18's changes through the outbox: the account's contact, contacts and balance alert are
    `account.updated` (the account after it), disable/enable are `app.disabled`/`app.enabled`, a
    renewal mode `package.renewal_mode_changed`, and a batch renewal one `renewal.paid` (its answer)
    then one `package.renewed` per item, in its item's transaction (the same data as its order)."""
    sid = api.paid_app("2026-03-01T00:00:00Z", cash="1200.00")
    feed = Feed()
    feed.new()
    acct = customer(api, "PATCH", "/v1/accounts/acme", {"email": "new@acme.test"}).body
    one(feed, "account.updated", CUSTOMER, acct, account="acme")
    customer(api, "PUT", "/v1/accounts/acme/balance-alert", {"threshold": "100.00"})
    assert [e["type"] for e in feed.new()] == ["account.updated"]
    disabled = customer(api, "POST", f"/v1/apps/{sid}/disable").body
    one(feed, "app.disabled", CUSTOMER, disabled, account="acme", sdkappid=sid)
    enabled = customer(api, "POST", f"/v1/apps/{sid}/enable").body
    one(feed, "app.enabled", CUSTOMER, enabled, account="acme", sdkappid=sid)
    customer(api, "PUT", f"/v1/apps/{sid}/renewal", {"product": "standard", "mode": "none"})
    (mode,) = feed.new()
    assert (mode["type"], mode["data"]["sdkappid"]) == ("package.renewal_mode_changed", sid)
    body = {"items": [{"sdkappid": sid, "product": "standard", "months": 1},
                      {"sdkappid": sid, "product": "standard", "months": 1}]}
    done = customer(api, "POST", "/v1/accounts/acme/renewals", body, key="batch-events").body
    paid, *renewed = feed.new()
    assert (paid["type"], paid["data"]) == ("renewal.paid", done)
    assert [e["type"] for e in renewed] == ["package.renewed"] * 2
    assert [e["data"]["order"] for e in renewed] == done["orders"]
    customer(api, "POST", "/v1/accounts/acme/renewals", body, key="batch-events")  # a replay: nothing new
    none(feed)
