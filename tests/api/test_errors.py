"""Every error code of the contract (api-contract.md, Errors) at least once, with nothing written
when a request is refused; and never a 500 for odd input."""

from __future__ import annotations

import base64
import json
import time

import jwt

from chalicelib.config import auth_secret
from tests.helpers import assert_error


def customer(api, method, path, body=None, account="acme", **kw):
    return api.call(method, path, body, role="customer", account=account, **kw)



# ------------------------------------------------------------------ 400 invalid_request
BAD_AMOUNTS = ["1.001", "-5.00", 1.5, -5, "", "1e2", "abc", None, True, "1,00", " 1.00", 10**12, 10**40]


def test_bad_amounts_are_400(api, acme):
    before = api.balance()
    for amount in BAD_AMOUNTS:
        r = api.call("POST", "/v1/accounts/acme/topups", {"amount": amount, "kind": "cash"})
        assert_error(r, 400, "invalid_request")
        r = api.call("POST", "/v1/accounts/acme/vouchers", {"amount": amount})
        assert_error(r, 400, "invalid_request")
    assert api.balance() == before
    assert api.ok("GET", "/v1/accounts/acme/vouchers")["items"] == []


def test_zero_topup_and_unknown_kind_are_400(api, acme):
    assert_error(api.call("POST", "/v1/accounts/acme/topups", {"amount": "0.00", "kind": "cash"}), 400,
                 "invalid_request")
    assert_error(api.call("POST", "/v1/accounts/acme/topups", {"amount": "1.00", "kind": "bitcoin"}), 400,
                 "invalid_request")
    assert_error(api.call("POST", "/v1/accounts/acme/topups", {"amount": "1.00"}), 400, "invalid_request")


def test_months_out_of_range_are_400(api, acme):
    for months in (0, 25, -1, "1", 1.5, None, 10**30):  # 1.0 is the integer 1 (JSON Schema), see test_bad_input
        r = customer(api, "POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": months})
        assert_error(r, 400, "invalid_request")


def test_unknown_or_unbuyable_edition_is_400(api, acme):
    for edition in ("developer", "enterprise", "Standard", "", None, 1):
        r = customer(api, "POST", f"/v1/apps/{acme}/purchases", {"edition": edition, "months": 1})
        assert_error(r, 400, "invalid_request")
    assert api.balance()["cash"] == "500.00"
    assert api.ok("GET", f"/v1/apps/{acme}/orders")["items"] == []


def test_invalid_json_body_is_400(api, acme):
    for raw in (b"{", b"not json", b"\xff\xfe", b'{"edition": "standard", "months": 1', b"[1, 2]", b"null", b'"x"'):
        r = customer(api, "POST", f"/v1/apps/{acme}/purchases", raw=raw)
        assert_error(r, 400, "invalid_request")
    r = api.call("POST", "/v1/accounts", raw=b"{'account_id': 'x'}")
    assert_error(r, 400, "invalid_request")


def test_bad_instants_limits_and_tokens_are_400(api, acme):
    long_voucher = {"edition": "standard", "months": 1, "voucher_id": "v" * 129}
    r = customer(api, "POST", f"/v1/apps/{acme}/purchases", long_voucher)
    assert_error(r, 400, "invalid_request")
    for out_of_range in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        r = api.call("POST", "/v1/accounts/acme/vouchers", {"amount": "1.00", "expires_at": out_of_range})
        assert_error(r, 400, "invalid_request")
    r = api.call("POST", "/v1/accounts/acme/vouchers", {"amount": "1.00", "expires_at": "2026-03-01T00:00:00"})
    assert_error(r, 400, "invalid_request")  # no zone
    assert_error(api.call("PUT", "/v1/test/clock", {"now": "yesterday"}), 400, "invalid_request")
    assert_error(api.call("GET", "/v1/accounts/acme/ledger?limit=0"), 400, "invalid_request")
    assert_error(api.call("GET", "/v1/accounts/acme/ledger?limit=abc"), 400, "invalid_request")
    assert_error(api.call("GET", "/v1/accounts/acme/ledger?next_token=%%%"), 400, "invalid_request")
    assert_error(api.call("GET", "/v1/accounts/acme/ledger?next_token=WzFd"), 400, "invalid_request")  # "[1]"
    assert_error(api.call("POST", "/v1/accounts", {"account_id": "a b", "email": "x@y", "phone": "+1555"}), 400,
                 "invalid_request")


def test_test_clock_moving_backward_is_400(api, acme):
    r = api.call("PUT", "/v1/test/clock", {"now": "2026-02-28T23:59:59Z", "run_jobs": False})
    assert_error(r, 400, "invalid_request")
    assert api.ok("GET", "/v1/test/clock")["now"] == "2026-03-01T00:00:00Z"
    assert api.clock("2026-03-01T00:00:00Z")["now"] == "2026-03-01T00:00:00Z"  # standing still is fine


def test_idempotency_key_too_long_is_400(api, acme):
    r = customer(api, "POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": 1}, key="k" * 256)
    assert_error(r, 400, "invalid_request")
    assert api.balance()["cash"] == "500.00"


def _token(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_tampered_next_token_is_400_not_500(api, acme):
    api.account("beta", cash="7.00")
    beta_app = api.app("beta")
    lists = {  # each list with a well-formed key of another partition (beta's)
        "/v1/accounts/acme/ledger": {"account_id": {"S": "beta"}, "seq": {"N": "0"}},
        "/v1/accounts/acme/vouchers": {"account_id": {"S": "beta"}, "voucher_id": {"S": "v"}},
        "/v1/accounts/acme/apps": {"account_id": {"S": "beta"}, "sdkappid": {"N": str(beta_app - 1)}},
        f"/v1/apps/{acme}/orders": {"sdkappid": {"N": str(beta_app)}, "order_id": {"S": "o"}},
    }
    tampered = [_token({"a": 1}), _token({"account_id": "acme"}), _token({}), _token([]), _token("x"),
                _token({"account_id": {"S": "acme"}, "seq": {"N": "x"}}), _token({"seq": {"B": "AA=="}}), "AAAA"]
    for path, foreign in lists.items():
        for token in tampered:
            assert_error(api.call("GET", f"{path}?next_token={token}"), 400, "invalid_request")
        # refused by DynamoDB (400; moto answers an empty page), and never beta's items
        r = customer(api, "GET", f"{path}?next_token={_token(foreign)}")
        assert r.status in (200, 400), r.body
        assert "beta" not in json.dumps(r.body.get("items", []))


# ------------------------------------------------------------------ 401 unauthorized
def test_missing_or_bad_token_is_401(api, acme):
    secret = auth_secret()
    future = int(time.time()) + 3600
    bad_tokens = [
        "Bearer",
        "Bearer ",
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer " + jwt.encode({"sub": "acme", "role": "customer", "exp": future}, "wrong" * 8, algorithm="HS256"),
        "Bearer " + jwt.encode({"sub": "acme", "role": "customer", "exp": 1000}, secret, algorithm="HS256"),
        "Bearer " + jwt.encode({"sub": "acme", "role": "admin", "exp": future}, secret, algorithm="HS256"),
        "Bearer " + jwt.encode({"sub": "acme", "role": "customer"}, secret, algorithm="HS256"),  # no exp
        "Bearer " + jwt.encode({"role": "operator", "exp": future}, secret, algorithm="HS256"),  # no sub
        "Bearer " + jwt.encode({"sub": "acme", "role": "operator", "exp": future}, secret * 2, algorithm="HS512"),
        "Bearer " + jwt.encode({"sub": "acme", "role": "operator", "exp": future}, None, algorithm="none"),
    ]
    paths = [("GET", "/v1/accounts/acme"), ("POST", f"/v1/apps/{acme}/purchases")]
    for method, path in paths:
        assert_error(api.call(method, path, {"edition": "standard", "months": 1}, role=None), 401, "unauthorized")
        for header in bad_tokens:
            r = api.call(method, path, {"edition": "standard", "months": 1}, role=None,
                         headers={"Authorization": header})
            assert_error(r, 401, "unauthorized")
    assert api.balance()["cash"] == "500.00"
    assert api.call("GET", "/v1/openapi.json", role=None).status == 200  # the one public path


# ------------------------------------------------------------------ 402 insufficient_balance
def test_insufficient_balance_is_402_and_writes_nothing(api, acme):
    v = api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "100.00"})
    before_ledger = api.ok("GET", "/v1/accounts/acme/ledger")["items"]
    for body in ({"edition": "pro", "months": 1}, {"edition": "standard", "months": 2},
                 {"edition": "pro", "months": 1, "voucher_id": v["voucher_id"]}):
        r = customer(api, "POST", f"/v1/apps/{acme}/purchases", body, key=f"k-{len(body)}")
        assert_error(r, 402, "insufficient_balance")
    assert api.balance() == {"cash": "500.00", "gift": "0.00", "total": "500.00"}
    assert api.ok("GET", "/v1/accounts/acme/ledger")["items"] == before_ledger
    assert api.ok("GET", f"/v1/apps/{acme}/orders")["items"] == []
    assert api.ok("GET", "/v1/accounts/acme/vouchers")["items"][0]["used_by_order"] is None
    app = api.ok("GET", f"/v1/apps/{acme}")
    assert (app["edition"], app["status"], app["expires_at"]) == ("developer", "enabled", "2026-04-01T00:00:00Z")
    # the refusal was not recorded under its idempotency key: after a top-up the same retry acts
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "200.00", "kind": "gift"})
    r = customer(api, "POST", f"/v1/apps/{acme}/purchases", {"edition": "pro", "months": 1}, key="k-2")
    assert r.status == 201 and r.body["balance"]["total"] == "1.00"


# ------------------------------------------------------------------ 403 forbidden
def test_roles_are_enforced_with_403(api, acme):
    body = {"edition": "standard", "months": 1}
    assert_error(api.call("POST", f"/v1/apps/{acme}/purchases", body, role="service"), 403, "forbidden")
    assert_error(api.call("POST", f"/v1/apps/{acme}/refunds", {}, role="service"), 403, "forbidden")
    assert_error(api.call("GET", "/v1/accounts/acme", role="service"), 403, "forbidden")
    assert_error(api.call("POST", "/v1/accounts/acme/apps", {"name": "x", "region": "eu"}, role="service"), 403,
                 "forbidden")
    # operator-only writes, asked by the account's own customer
    assert_error(customer(api, "POST", "/v1/accounts/acme/topups", {"amount": "5.00", "kind": "cash"}), 403,
                 "forbidden")
    assert_error(customer(api, "POST", "/v1/accounts/acme/vouchers", {"amount": "5.00"}), 403, "forbidden")
    assert_error(customer(api, "POST", "/v1/accounts", {"account_id": "mine", "email": "a@b", "phone": "+1555"}),
                 403, "forbidden")
    assert_error(customer(api, "POST", "/v1/jobs/reclamation/runs", {"at": "2026-03-01T00:00:00Z"}), 403,
                 "forbidden")
    assert_error(customer(api, "PUT", "/v1/test/clock", {"now": "2026-03-02T00:00:00Z"}), 403, "forbidden")
    assert api.balance()["cash"] == "500.00"
    assert api.ok("GET", f"/v1/apps/{acme}/orders")["items"] == []


# ------------------------------------------------------------------ 404 not_found
def test_another_accounts_resources_are_404(api, acme):
    api.ok("POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": 1})
    api.account("beta", cash="1000.00")
    order_id = api.ok("GET", f"/v1/apps/{acme}/orders")["items"][0]["order_id"]
    requests = [
        ("GET", "/v1/accounts/acme", None),
        ("GET", "/v1/accounts/acme/ledger", None),
        ("GET", "/v1/accounts/acme/vouchers", None),
        ("GET", "/v1/accounts/acme/apps", None),
        ("GET", "/v1/accounts/acme/notifications", None),
        ("POST", "/v1/accounts/acme/apps", {"name": "x", "region": "eu"}),
        ("GET", f"/v1/apps/{acme}", None),
        ("GET", f"/v1/apps/{acme}/orders", None),
        ("GET", f"/v1/apps/{acme}/entitlements", None),
        ("GET", f"/v1/apps/{acme}/refund-quote", None),
        ("POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": 1}),
        ("POST", f"/v1/apps/{acme}/refunds", {}),
        ("PUT", f"/v1/apps/{acme}/auto-renew", {"enabled": True}),
        ("POST", f"/v1/apps/{acme}/trial-extensions", None),
        ("DELETE", f"/v1/apps/{acme}", None),
    ]
    for method, path, body in requests:
        r = customer(api, method, path, body, account="beta")
        assert_error(r, 404, "not_found")
        assert "acme" not in r.body["error"]["message"] or "not found" in r.body["error"]["message"]
    assert order_id not in str(customer(api, "GET", "/v1/accounts/beta/ledger", account="beta").body)
    # nothing moved on either side
    assert api.balance("acme")["cash"] == "101.00" and api.balance("beta")["cash"] == "1000.00"
    assert len(api.ok("GET", f"/v1/apps/{acme}/orders")["items"]) == 1
    assert api.ok("GET", "/v1/accounts/acme")["apps_count"] == 1


def test_unknown_ids_are_404(api, acme):
    for path in ("/v1/apps/999999", "/v1/apps/abc", "/v1/apps/-1", "/v1/apps/12345678901234567890",
                 "/v1/apps/999999/orders", "/v1/apps/999999/entitlements"):
        assert_error(api.call("GET", path), 404, "not_found")
    assert_error(api.call("POST", "/v1/apps/999999/purchases", {"edition": "standard", "months": 1}), 404,
                 "not_found")
    assert_error(api.call("POST", "/v1/apps/999999/refunds", {}), 404, "not_found")
    assert_error(api.call("GET", "/v1/accounts/nobody"), 404, "not_found")
    assert_error(api.call("POST", "/v1/accounts/nobody/topups", {"amount": "1.00", "kind": "cash"}), 404,
                 "not_found")
    assert_error(api.call("POST", "/v1/accounts/nobody/vouchers", {"amount": "1.00"}), 404, "not_found")
    assert_error(api.call("POST", "/v1/accounts/nobody/apps", {"name": "x", "region": "eu"}), 404, "not_found")
    assert_error(api.call("POST", "/v1/jobs/no-such-job/runs", {"at": "2026-03-01T00:00:00Z"}), 404, "not_found")


# ------------------------------------------------------------------ 409 conflict and its special codes
def test_downgrade_pro_to_standard_is_409(api, acme):
    api.ok("POST", "/v1/accounts/acme/topups", {"amount": "1000.00", "kind": "cash"})
    api.ok("POST", f"/v1/apps/{acme}/purchases", {"edition": "pro", "months": 1})
    before = api.balance()
    r = customer(api, "POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": 1})
    assert_error(r, 409, "downgrade_not_allowed")
    assert api.balance() == before
    assert len(api.ok("GET", f"/v1/apps/{acme}/orders")["items"]) == 1
    assert api.ok("GET", f"/v1/apps/{acme}")["edition"] == "pro"


def test_reused_idempotency_key_is_409(api, acme):
    path = f"/v1/apps/{acme}/purchases"
    assert customer(api, "POST", path, {"edition": "standard", "months": 1}, key="same").status == 201
    r = customer(api, "POST", path, {"edition": "standard", "months": 1, "auto_renew": True}, key="same")
    assert_error(r, 409, "idempotency_key_reused")
    r = api.call("POST", "/v1/accounts/acme/topups", {"amount": "1.00", "kind": "cash"}, key="t")
    assert r.status == 201
    r = api.call("POST", "/v1/accounts/acme/topups", {"amount": "1.00", "kind": "gift"}, key="t")
    assert_error(r, 409, "idempotency_key_reused")
    assert api.balance() == {"cash": "102.00", "gift": "0.00", "total": "102.00"}
    assert len(api.ok("GET", f"/v1/apps/{acme}/orders")["items"]) == 1


def test_301st_app_is_409_limit_exceeded(api, acme):
    from chalicelib import bootstrap
    from chalicelib.services import apps

    ctx = bootstrap.current().ctx()
    for i in range(299):  # the fixture made the first
        apps.create_app(ctx, "acme", f"app{i}", "eu")
    assert api.ok("GET", "/v1/accounts/acme")["apps_count"] == 300
    r = customer(api, "POST", "/v1/accounts/acme/apps", {"name": "one too many", "region": "eu"})
    assert_error(r, 409, "limit_exceeded")
    assert api.ok("GET", "/v1/accounts/acme")["apps_count"] == 300
    page = api.ok("GET", "/v1/accounts/acme/apps?limit=1000")
    assert len(page["items"]) == 300
    # another account is not affected
    api.account("beta")
    assert customer(api, "POST", "/v1/accounts/beta/apps", {"name": "x", "region": "eu"}, account="beta").status == 201


def test_other_conflicts_are_409(api, acme):
    r = api.call("POST", "/v1/accounts", {"account_id": "acme", "email": "a@b", "phone": "+1555"})
    assert_error(r, 409, "conflict")
    assert_error(customer(api, "POST", f"/v1/apps/{acme}/refunds", {}), 409, "conflict")  # Developer: nothing
    assert_error(customer(api, "POST", f"/v1/apps/{acme}/trial-extensions"), 409, "conflict")  # not expired
    assert_error(customer(api, "DELETE", f"/v1/apps/{acme}"), 409, "conflict")  # enabled


def test_login_to_an_app_not_in_service_is_409_not_in_service(api, acme):
    api.ok("POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": 1})
    api.clock("2026-03-02T00:00:00Z")
    api.ok("POST", f"/v1/apps/{acme}/refunds", {})  # disabled
    r = api.call("POST", "/v1/usage/logins", {"sdkappid": acme, "user_ids": ["u1"]}, role="service")
    assert_error(r, 409, "not_in_service")
    r = customer(api, "POST", "/v1/usage/logins", {"sdkappid": acme, "user_ids": ["u1"]})
    assert_error(r, 403, "forbidden")  # usage is ingested by the service role (or operators)


# ------------------------------------------------------------------ 410 gone
def test_writes_to_a_reclaimed_app_are_410(api, acme):
    api.ok("POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": 1})
    api.clock("2026-03-02T00:00:00Z")
    api.ok("POST", f"/v1/apps/{acme}/refunds", {})
    app = customer(api, "DELETE", f"/v1/apps/{acme}")
    assert app.status == 200 and app.body["status"] == "reclaimed"
    before = api.balance()
    assert_error(customer(api, "POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": 1}), 410,
                 "gone")
    assert_error(customer(api, "PUT", f"/v1/apps/{acme}/auto-renew", {"enabled": False}), 410, "gone")
    assert_error(customer(api, "POST", f"/v1/apps/{acme}/refunds", {}), 410, "gone")
    assert api.balance() == before
    # the financial records are kept
    assert [o["status"] for o in api.ok("GET", f"/v1/apps/{acme}/orders")["items"]] == ["refunded"]


# ------------------------------------------------------------------ never a 500
ODD_BODIES = [
    None, [], [1, 2], "string", 0, 1.5, True, {},
    {"amount": 10**40, "kind": "cash"}, {"amount": 1e308, "kind": "gift"}, {"amount": "9" * 400, "kind": "cash"},
    {"amount": 99999999999999999999, "kind": "cash"},
    {"account_id": "x" * 5000, "email": "a@b", "phone": "+1555"}, {"account_id": ["a"], "email": {}, "phone": 1},
    {"edition": "standard", "months": "12"}, {"edition": "standard", "months": 10**40},
    {"edition": "standard", "months": -(10**40)}, {"edition": "standard", "months": 1e308},
    {"edition": "standard", "months": 1, "voucher_id": "v" * 5000},
    {"edition": "standard", "months": 1, "voucher_id": 12},
    {"edition": "standard", "months": 1, "voucher_id": "\u0000\ud7ff\U0001f4a9"},
    {"edition": "standard", "months": 1, "auto_renew": "true"},
    {"edition": {"$ne": None}, "months": [1]},
    {"product": "x" * 5000}, {"product": 5}, {"product": "\u0000"}, {"product": "developer"},
    {"product": "standard"}, {"product": "push"},
    {"enabled": 1}, {"enabled": None},
    {"name": "", "region": ""}, {"name": "n" * 129, "region": "eu"}, {"name": "\U0001f4a9", "region": "\u0000"},
    {"now": "2026-13-45T99:99:99Z"}, {"now": "9999-12-31T23:59:59Z", "run_jobs": False}, {"now": 12345},
    {"now": "2026-03-01T00:00:00+99:00"},
    {"days": 10**40}, {"days": -1}, {"hours": "1"}, {"minutes": 1.5},
    {"at": "not an instant"}, {"at": "0001-01-01T00:00:00Z"}, {"at": "9999-12-31T23:59:59Z"},
    {"at": "0001-01-01T00:00:00+01:00"}, {"at": "2026-03-01"}, {"at": "2026-03-01T00:00:00"},
    {"amount": "1.00", "expires_at": "0001-01-01T00:00:00+01:00"}, {"amount": "1.00", "expires_at": "0001-01-01Z"},
    {"amount": "1.00", "expires_at": "9999-12-31T23:59:59-01:00"}, {"amount": "1.00", "expires_at": ""},
    {"amount": "1.00", "expires_at": "9999-12-31T23:59:59Z"}, {"amount": "1.00", "expires_at": "0001-01-01T00:00:00Z"},
    {"now": "0001-01-01T00:00:00+01:00"}, {"now": "9999-12-31T23:59:59-01:00"},
]


def test_odd_bodies_never_give_a_500(api, acme):
    paths = [
        ("POST", "/v1/accounts"),
        ("POST", "/v1/accounts/acme/topups"),
        ("POST", "/v1/accounts/acme/vouchers"),
        ("POST", "/v1/accounts/acme/apps"),
        ("POST", f"/v1/apps/{acme}/purchases"),
        ("POST", f"/v1/apps/{acme}/refunds"),
        ("POST", f"/v1/apps/{acme}/trial-extensions"),
        ("PUT", f"/v1/apps/{acme}/auto-renew"),
        ("POST", "/v1/jobs/reclamation/runs"),
        ("POST", "/v1/test/clock/advance"),
    ]
    failures = []
    for method, path in paths:
        for body in ODD_BODIES:
            r = api.call(method, path, body)
            if r.status >= 500:
                failures.append((method, path, body if len(repr(body)) < 80 else repr(body)[:80], r.body))
    # the clock last: some bodies would move it far ahead
    for body in ODD_BODIES:
        r = api.call("PUT", "/v1/test/clock", body)
        if r.status >= 500:
            failures.append(("PUT", "/v1/test/clock", body, r.body))
    assert failures == []
