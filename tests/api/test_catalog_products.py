"""Products are catalog data (issue 10, item 1).

The proof: a test catalog (the real one plus a NEW prepaid plugin "translate" with a monthly overage
meter) is bought, metered, settled and billed through the HTTP API with no code change. Also: a bad
catalog fails at load naming the field; the catalog's month ranges and `purchasable` are what the
service enforces; the notification texts are templates filled from the catalog's rule numbers."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain import catalog as catalog_module
from chalicelib.domain.catalog import CATALOG_PATH, Catalog, CatalogError
from chalicelib.domain.notices import render

TRANSLATE = {
    "monthly_price": "99.00",
    "meters": {
        "characters": {"unit": "character", "period": "month", "included": 1_000_000, "block": 100_000,
                       "block_price": "2.50", "bill_item": "translate_character_overage",
                       "allowance": "characters_per_month"},
    },
}


def real() -> dict[str, Any]:
    return json.loads(CATALOG_PATH.read_text())  # type: ignore[no-any-return]


@pytest.fixture
def use_catalog(tmp_path: Path) -> Iterator[Any]:
    """Serve a given catalog (a file, as IMBILL_CATALOG would name it) for the rest of the test: the
    composition's catalog, which every request and job takes from it."""

    from chalicelib import bootstrap

    before = bootstrap.current()

    def use(data: dict[str, Any]) -> None:
        path = tmp_path / "catalog.json"
        path.write_text(json.dumps(data))
        bootstrap.use(bootstrap.compose(before.settings, clock=before.clock, uow=before.uow, notifier=before.notifier,
                                        catalog_=catalog_module.load(path)))

    yield use
    bootstrap.use(before)


def customer(api: Any, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
    return api.ok(method, path, body, expect=expect, role="customer", account="acme")


@pytest.mark.storage  # the new meter's map update also runs on DynamoDB Local
def test_a_new_prepaid_plugin_with_a_monthly_meter_is_catalog_data_only(api, use_catalog):
    data = real()
    data["plugins"]["translate"] = TRANSLATE
    use_catalog(data)
    api.clock("2026-03-10T00:00:00Z")
    api.account("acme", cash="1000.00")
    sid = api.app("acme")

    # listed for clients (the console builds its forms from it)
    listed = customer(api, "GET", "/v1/catalog")["plugins"]["translate"]
    assert (listed["monthly_price"], listed["purchasable"], listed["months"]) == ("99.00", True, [1, 24])
    assert listed["meters"]["characters"]["bill_item"] == "translate_character_overage"

    # bought through the plugins endpoint: a plugin period, the catalog's price
    r = customer(api, "POST", f"/v1/apps/{sid}/plugins", {"plugin": "translate", "months": 1})
    o = r["order"]
    assert (o["product"], o["kind"], o["price"], o["starts_at"], o["ends_at"]) == (
        "translate", "new", "99.00", "2026-03-10T00:00:00Z", "2026-04-10T00:00:00Z")
    assert r["balance"]["cash"] == "901.00"

    # its entitlements: the end of what is paid and the meter's included amount
    ent = api.ok("GET", f"/v1/apps/{sid}/entitlements", role="service")
    assert ent["plugins"]["translate"] == {"ends_at": "2026-04-10T00:00:00Z", "characters_per_month": 1_000_000}

    # metered through the usage API (service role), summed over the month
    report = {"sdkappid": sid, "meter": "translate.characters"}
    first = api.ok("POST", "/v1/usage/meters", {**report, "quantity": 1_000_000}, expect=200, role="service")
    assert first == {"month": "2026-03", "meter": "translate.characters", "quantity": 1_000_000}
    api.clock("2026-03-20T00:00:00Z")
    second = api.ok("POST", "/v1/usage/meters", {**report, "quantity": 250_001}, expect=200, role="service")
    assert second["quantity"] == 1_250_001
    usage = customer(api, "GET", f"/v1/apps/{sid}/usage?month=2026-03")
    assert usage["meters"] == {"translate.characters": 1_250_001}  # the meters without fields of their own

    # the monthly settlement bills the started blocks above the included amount
    api.clock("2026-04-01T02:00:00Z")
    run = api.ok("POST", "/v1/jobs/monthly-settlement/runs", {"at": "2026-04-01T02:00:00Z"}, expect=200)
    assert run["summary"].get("billed") == 1
    bills = customer(api, "GET", "/v1/accounts/acme/bills?period=2026-03")["items"]
    assert [(b["kind"], b["period"], b["total"]) for b in bills] == [("monthly", "2026-03", "7.50")]
    assert bills[0]["lines"] == [{"sdkappid": sid, "item": "translate_character_overage", "quantity": 3,
                                  "unit_price": "2.50", "amount": "7.50"}]  # ceil(250,001 / 100,000) x 2.50
    assert api.balance()["cash"] == "893.50"

    # a billed month is closed for the new meter too
    late = api.call("POST", "/v1/usage/meters", {**report, "quantity": 1, "at": "2026-03-31T00:00:00Z"},
                    role="service")
    assert (late.status, late.code) == (409, "period_closed")

    # and the plugin refunds like any other: it ends now, the app stays enabled
    refund = customer(api, "POST", f"/v1/apps/{sid}/refunds", {"product": "translate"})
    assert refund["refund"]["product"] == "translate" and refund["app"]["status"] == "enabled"
    assert "translate" not in api.ok("GET", f"/v1/apps/{sid}/entitlements", role="service")["plugins"]


def test_a_new_add_on_with_tiers_and_a_quantity_is_catalog_data_only(api, use_catalog):
    data = real()
    data["addons"]["video"] = {
        "tiers": {"sd": {"price": "50.00"}, "hd": {"price": "120.00"},
                  "sampler": {"price": "0.00", "days": 3, "once_per_app": True, "starts_now": True,
                              "ends_as": "sampler_ends_at"}},
        "quantity": {"name": "streams", "included": 2, "extra_unit_price": "10.00"},
        "max_months": 12,
    }
    use_catalog(data)
    api.clock("2026-03-10T00:00:00Z")
    api.account("acme", cash="1000.00")
    sid = api.app("acme")
    sampler = customer(api, "POST", f"/v1/apps/{sid}/addons", {"addon": "video", "tier": "sampler", "months": 1})
    assert (sampler["order"]["price"], sampler["order"]["ends_at"]) == ("0.00", "2026-03-13T00:00:00Z")
    again = api.call("POST", f"/v1/apps/{sid}/addons", {"addon": "video", "tier": "sampler", "months": 1},
                     role="customer", account="acme")
    assert (again.status, again.code) == (409, "conflict")
    o = customer(api, "POST", f"/v1/apps/{sid}/addons", {"addon": "video", "tier": "hd", "quantity": 4,
                                                          "months": 2})["order"]
    assert (o["product"], o["tier"], o["quantity"], o["price"]) == ("video", "hd", 4, "280.00")  # (120 + 2 x 10) x 2
    ent = api.ok("GET", f"/v1/apps/{sid}/entitlements", role="service")
    assert ent["addons"]["video"] == {"tier": "hd", "streams": 4, "included_streams": 2,
                                      "sampler_ends_at": "2026-03-13T00:00:00Z", "ends_at": "2026-05-10T00:00:00Z"}
    for body in ({"addon": "video", "tier": "4k", "months": 1}, {"addon": "video", "quantity": 1, "months": 1},
                 {"addon": "video", "months": 13}):
        r = api.call("POST", f"/v1/apps/{sid}/addons", body, role="customer", account="acme")
        assert (r.status, r.code) == (400, "invalid_request"), body


def opened(api: Any, now: str, cash: str) -> int:
    """At `now`, account acme with `cash` and one new app (on the catalog's trial edition)."""
    api.clock(now)
    api.account("acme", cash=cash)
    return int(api.app("acme"))


def enterprise_catalog() -> dict[str, Any]:
    """The real catalog plus a NEW edition "enterprise", ranked above Pro, sold for up to 12 months."""
    data = real()
    data["editions"]["enterprise"] = {
        "monthly_price": "1200.00", "free_mau": 3, "mau_overage_unit_price": "0.50", "max_months": 12,
        "limits": {**data["editions"]["pro"]["limits"], "members_per_group": 6000, "friends_per_user": 10000},
        "features": {**data["editions"]["pro"]["features"], "broadcast_to_all_users": True},
    }
    data["edition_rank"]["enterprise"] = 3
    return data


def test_a_new_edition_is_catalog_data_only(api, use_catalog):
    data = enterprise_catalog()
    use_catalog(data)
    sid = opened(api, "2026-06-01T00:00:00Z", "5000.00")
    # listed for clients, with its own month range
    assert customer(api, "GET", "/v1/catalog")["editions"]["enterprise"] == {
        "monthly_price": "1200.00", "purchasable": True, "trial": False, "months": [1, 12]}

    # upgraded to from Pro (worked example 4's rule): Pro's unused half credited, Enterprise charged from now
    assert customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "pro", "months": 1})["order"]["price"] == (
        "699.00")
    api.clock("2026-06-16T00:00:00Z")
    r = customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "enterprise", "months": 1})
    assert r["credit"] == {"total": "349.50", "cash": "349.50", "gift": "0.00"}  # 699.00 - 15/30 x 699.00
    o = r["order"]
    assert (o["product"], o["kind"], o["price"], o["starts_at"], o["ends_at"]) == (
        "enterprise", "upgrade", "1200.00", "2026-06-16T00:00:00Z", "2026-07-16T00:00:00Z")
    assert (r["app"]["edition"], r["app"]["status"]) == ("enterprise", "enabled")
    assert r["balance"]["cash"] == "3450.50"  # 5000.00 - 699.00 + 349.50 - 1200.00

    # its entitlements are the catalog's
    ent = api.ok("GET", f"/v1/apps/{sid}/entitlements", role="service")
    assert (ent["edition"], ent["limits"], ent["features"]) == (
        "enterprise", data["editions"]["enterprise"]["limits"], data["editions"]["enterprise"]["features"])
    assert (ent["mau"]["free"], ent["mau"]["overage_allowed"]) == (3, True)

    # ranked above Pro: no way down; its own month range
    down = api.call("POST", f"/v1/apps/{sid}/purchases", {"edition": "pro", "months": 1}, role="customer",
                    account="acme")
    assert (down.status, down.code) == (409, "downgrade_not_allowed")
    long = api.call("POST", f"/v1/apps/{sid}/purchases", {"edition": "enterprise", "months": 13}, role="customer",
                    account="acme")
    assert (long.status, long.body["error"]["message"]) == (400, "months: a whole number from 1 to 12")

    # renewed: 2 more months appended after the expiry, at the catalog's price
    api.clock("2026-06-20T00:00:00Z")
    o = customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "enterprise", "months": 2})["order"]
    assert (o["kind"], o["price"], o["starts_at"], o["ends_at"]) == (
        "renewal", "2400.00", "2026-07-16T00:00:00Z", "2026-09-16T00:00:00Z")
    assert api.balance()["cash"] == "1050.50"
    mode = customer(api, "PUT", f"/v1/apps/{sid}/renewal", {"product": "enterprise", "mode": "auto"}, expect=200)
    assert (mode["product"], mode["renewal"], mode["monthly_price"], mode["expires_at"]) == (
        "enterprise", "auto", "1200.00", "2026-09-16T00:00:00Z")  # a paid edition renews automatically if asked

    # the monthly bill: 5 users in June on Enterprise (3 free), 2 x 0.50
    logins = api.ok("POST", "/v1/usage/logins", {"sdkappid": sid, "user_ids": [f"u{i}" for i in range(5)]},
                    expect=200, role="service")
    assert logins["accepted"] == 5
    api.clock("2026-07-01T02:00:00Z")
    run = api.ok("POST", "/v1/jobs/monthly-settlement/runs", {"at": "2026-07-01T02:00:00Z"}, expect=200)
    assert run["summary"].get("billed") == 1
    bills = customer(api, "GET", "/v1/accounts/acme/bills?period=2026-06")["items"]
    assert [(b["kind"], b["total"]) for b in bills] == [("monthly", "1.00")]
    assert bills[0]["lines"] == [{"sdkappid": sid, "item": "mau_overage", "quantity": 2, "unit_price": "0.50",
                                  "amount": "1.00"}]
    assert api.balance()["cash"] == "1049.50"

    # refunded like any edition: the renewal's current period's unused part and the period not started
    api.clock("2026-07-26T00:00:00Z")
    refund = customer(api, "POST", f"/v1/apps/{sid}/refunds", {})
    assert {k: refund["refund"][k] for k in ("product", "current_amount", "not_started_amount", "used_value",
                                             "total")} == {
        "product": "enterprise", "current_amount": "1200.00", "not_started_amount": "1200.00",
        "used_value": "387.10", "total": "2012.90"}  # 10/31 x 1200.00 = 387.096... used
    assert refund["app"]["status"] == "disabled"
    assert api.balance()["cash"] == "3062.40"


def test_the_trial_edition_is_the_catalogs(api, use_catalog):
    """New apps start on the edition the catalog flags `trial`, whatever its name: it is extended,
    not renewed nor refunded."""
    data = real()
    data["editions"]["hobby"] = data["editions"].pop("developer")
    data["edition_rank"]["hobby"] = data["edition_rank"].pop("developer")
    use_catalog(data)
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    app = customer(api, "POST", "/v1/accounts/acme/apps", {"name": "chat", "region": "eu"})
    sid = app["sdkappid"]
    assert (app["edition"], app["expires_at"]) == ("hobby", "2026-04-01T00:00:00Z")
    assert customer(api, "GET", "/v1/catalog")["editions"]["hobby"]["trial"] is True  # what the console reads
    auto = api.call("PUT", f"/v1/apps/{sid}/auto-renew", {"enabled": True}, role="customer", account="acme")
    assert (auto.status, auto.body["error"]["message"]) == (
        409, "the Hobby edition does not renew; ask for a trial extension")
    refund = api.call("POST", f"/v1/apps/{sid}/refunds", {}, role="customer", account="acme")
    assert (refund.status, refund.body["error"]["message"]) == (
        409, "the Hobby edition is free: there is nothing to refund")
    early = api.call("POST", f"/v1/apps/{sid}/trial-extensions", {}, role="customer", account="acme")
    assert (early.status, early.body["error"]["message"]) == (409, "a Hobby app can be extended only after it expires")
    api.clock("2026-04-02T00:00:00Z")
    extended = customer(api, "POST", f"/v1/apps/{sid}/trial-extensions", {}, expect=200)
    assert (extended["edition"], extended["status"], extended["expires_at"]) == (
        "hobby", "enabled", "2026-05-02T00:00:00Z")
    bought = customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1})["order"]
    assert (bought["kind"], bought["starts_at"]) == ("new", "2026-04-02T00:00:00Z")


def test_a_catalog_needs_exactly_one_trial_edition_not_for_sale():
    data = real()
    data["editions"]["standard"]["trial"] = True
    with pytest.raises(CatalogError, match="trial"):
        Catalog.from_dict(data)
    data = real()
    data["editions"]["developer"]["purchasable"] = True
    with pytest.raises(CatalogError, match="trial"):
        Catalog.from_dict(data)
    assert catalog_module.load(CATALOG_PATH).trial_edition == "developer"


def test_usage_meters_endpoint_refuses_what_the_catalog_does_not_have(api, acme):
    for body in ({"meter": "video.minutes"}, {"meter": "search.minutes"}, {"meter": "push.broadcast_calls"},
                 {"meter": "search"}):
        r = api.call("POST", "/v1/usage/meters", {"sdkappid": acme, "quantity": 1, **body}, role="service")
        assert (r.status, r.code) == (400, "invalid_request"), body


def test_search_is_reported_through_the_generic_meter_endpoint_too(api, acme):
    body = {"sdkappid": acme, "meter": "search.requests", "quantity": 7}
    assert api.ok("POST", "/v1/usage/meters", body, expect=200, role="service")["quantity"] == 7
    r = api.ok("POST", "/v1/usage/search", {"sdkappid": acme, "stored_messages": 0, "requests": 3}, expect=200,
               role="service")
    assert r == {"month": "2026-03", "stored_messages": 0, "requests": 10}


def test_month_ranges_and_purchasable_come_from_the_catalog(api, use_catalog):
    data = real()
    data["plugins"]["search"]["max_months"] = 3
    data["addons"]["desk"]["purchasable"] = False
    data["editions"]["pro"]["min_months"] = 2
    use_catalog(data)
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="9000.00")
    sid = api.app("acme")
    for path, body, message in (
        ("plugins", {"plugin": "search", "months": 4}, "months: a whole number from 1 to 3"),
        ("purchases", {"edition": "pro", "months": 1}, "months: a whole number from 2 to 24"),
        ("addons", {"addon": "desk", "months": 1}, "'desk' cannot be bought"),
    ):
        r = api.call("POST", f"/v1/apps/{sid}/{path}", body, role="customer", account="acme")
        assert (r.status, r.code, r.body["error"]["message"]) == (400, "invalid_request", message)
    assert customer(api, "POST", f"/v1/apps/{sid}/plugins", {"plugin": "search", "months": 3})["order"]["months"] == 3
    assert customer(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "pro", "months": 2})["order"]["months"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c["plugins"]["push"].pop("monthly_price"), "plugins.push.monthly_price"),
        (lambda c: c["plugins"]["search"]["meters"]["requests"].update(block_price="four"),
         "plugins.search.meters.requests.block_price"),
        (lambda c: c["plugins"]["push"]["meters"]["messages"].update(period="week"),
         "plugins.push.meters.messages.period"),
        (lambda c: c["addons"]["desk"]["tiers"]["standard"].update(price="299.001"),
         "addons.desk.tiers.standard.price"),
        (lambda c: c["editions"]["pro"].update(colour="blue"), "editions.pro.colour"),
        (lambda c: c["lifecycle"].pop("settlement_days"), "lifecycle.settlement_days"),
        (lambda c: c["plugins"]["push"]["meters"]["messages"].update(included=-1),
         "plugins.push.meters.messages.included"),
    ],
)
def test_a_bad_catalog_fails_at_load_naming_the_field(change, field, tmp_path):
    data = copy.deepcopy(real())
    change(data)
    with pytest.raises(CatalogError, match=f": {field}: "):
        Catalog.from_dict(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CatalogError, match=str(path)):
        catalog_module.load(path)


def test_a_bill_item_used_twice_fails_at_load():
    data = real()
    data["plugins"]["translate"] = copy.deepcopy(TRANSLATE)
    data["plugins"]["translate"]["meters"]["characters"]["bill_item"] = "push_message_overage"
    with pytest.raises(CatalogError, match="bill_item"):
        Catalog.from_dict(data)


def test_the_real_catalog_loads():
    c = catalog_module.load(CATALOG_PATH)
    assert c.purchasable_editions == ("standard", "pro")
    assert c.months_range("push") == (1, 24) and c.months_bounds == (1, 24)
    assert [(p, m) for p, m, _ in c.meters("month")] == [
        ("push", "messages"), ("search", "stored_messages"), ("search", "requests")]
    assert c.quota_plugin == "push" and c.included_push_calls == 100


# ------------------------------------------------------------------ notification texts
def test_notification_texts_render_as_before_from_the_catalog():
    c = catalog_module.load(CATALOG_PATH)
    assert render(c, "warning_enabled") == "Renew it to keep the app in service; it stops 24 hours after expiry."
    assert render(c, "warning_stopped") == (
        "It was stopped 24 hours after expiry: buy a package to bring it back; its data is deleted 90 days "
        "after the stop.")
    assert render(c, "stopped_expired", expired_at="2026-08-20T10:00:00Z") == (
        "its package expired 2026-08-20T10:00:00Z and was not renewed. Its data is deleted 90 days after the stop "
        "unless it is brought back by a purchase.")
    assert render(c, "arrears_body", balance="-25.18", stops_at="2026-06-02T02:00:00Z") == (
        "A postpaid bill left your balance at -25.18. Top up to zero or above within 24 hours, or every enabled "
        "app of the account stops at 2026-06-02T02:00:00Z.")


def test_notification_texts_follow_the_rule_numbers():
    data = real()
    data["lifecycle"].update(stop_after_expiry_hours=1, reclaim_after_days=30, arrears_stop_after_hours=48)
    c = Catalog.from_dict(data)
    assert render(c, "warning_enabled").endswith("it stops 1 hour after expiry.")
    assert "deleted 30 days after the stop" in render(c, "warning_stopped")
    assert "within 48 hours" in render(c, "arrears_body", balance="-1.00", stops_at="x")


# ------------------------------------------------------------------ items written before the generic attributes
@pytest.mark.storage
def test_plugin_state_stored_under_the_old_attributes_is_read_and_moved_on_the_next_write(api):
    from datetime import UTC, datetime

    from chalicelib.store.dynamodb.models import AppModel

    api.clock("2026-03-10T00:00:00Z")
    api.account("acme", cash="1000.00")
    sid = api.app("acme")
    old_push = datetime(2026, 3, 1, tzinfo=UTC)
    AppModel(sid).update(actions=[AppModel.legacy_push_until.set(old_push),
                                  AppModel.legacy_search_until.set(datetime(2026, 3, 5, tzinfo=UTC)),
                                  AppModel.legacy_call_trial_used.set(True)])
    app = AppModel.get(sid)
    assert (app.until("push"), app.until("search")) == (old_push, datetime(2026, 3, 5, tzinfo=UTC))
    assert app.used_once("call", "trial") and app.plugins_with_until() == ["push", "search"]

    # the call trial was used under the old attribute: still once per app
    r = api.call("POST", f"/v1/apps/{sid}/addons", {"addon": "call", "tier": "trial", "months": 1},
                 role="customer", account="acme")
    assert (r.status, r.code) == (409, "conflict")

    customer(api, "POST", f"/v1/apps/{sid}/plugins", {"plugin": "search", "months": 1})
    app = AppModel.get(sid)
    assert app.until("search") == datetime(2026, 4, 10, tzinfo=UTC)
    assert app.until("push") == old_push  # moved into plugins_until, unchanged
    assert (app.legacy_push_until, app.legacy_search_until) == (None, None)
    assert app.plugins_until is not None and set(app.plugins_until.as_dict()) == {"push", "search"}


def test_every_notification_text_is_a_catalog_template_checked_at_load():
    data = real()
    data["notices"]["bill_body"] = "Bill {period}: {colour}"
    with pytest.raises(CatalogError, match="notices: .*bill_body states what it is not given: colour"):
        Catalog.from_dict(data)
    data = real()
    del data["notices"]["reclaimed_body"]
    with pytest.raises(CatalogError, match=r"notices: .*missing: \['reclaimed_body'\]"):
        Catalog.from_dict(data)
    data = real()
    data["notices"]["bill_subjet"] = "typo"
    with pytest.raises(CatalogError, match=r"unknown: \['bill_subjet'\]"):
        Catalog.from_dict(data)


def test_the_bill_notice_is_worded_by_the_catalog(api, use_catalog):
    data = real()
    data["notices"].update(bill_subject="Your {kind} invoice for {period} ({total})",
                           bill_line="{item} on app {sdkappid}: {amount}")
    use_catalog(data)
    sid = opened(api, "2026-05-10T00:00:00Z", "1000.00")
    customer(api, "POST", f"/v1/apps/{sid}/plugins", {"plugin": "push", "months": 1})
    customer(api, "PUT", f"/v1/apps/{sid}/plugins/push/quota", {"daily_broadcast_calls": 150}, expect=200)
    api.clock("2026-05-11T00:30:00Z")
    run = api.ok("POST", "/v1/jobs/push-quota-billing/runs", {"at": "2026-05-11T00:30:00Z"}, expect=200)
    assert run["summary"].get("billed") == 1
    sent = api.ok("GET", "/v1/accounts/acme/notifications?limit=100")["items"]
    bill = next(n for n in sent if n["kind"] == "bill" and n["channel"] == "email")
    assert bill["subject"] == "Your daily invoice for 2026-05-10 (500.00)"  # worked example 7: 50 x 10.00
    assert bill["body"] == ("Bill 2026-05-10 (daily) of 500.00 was charged to your balance (500.00 cash, 0.00 gift): "
                            f"push_api_quota on app {sid}: 500.00.")
