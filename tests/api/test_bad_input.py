"""Bad input is a 400 `invalid_request` (or 413), never a 500 and never accepted; every error the app
answers, also Chalice's own 405 and 415, is `{"error": {"code", "message"}}` (issue 7, items 5-6)."""

from __future__ import annotations

import json

import pytest

from chalicelib.api.auth import mint_token
from tests.helpers import assert_error


def nested(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


def test_json_nested_deeper_than_32_levels_is_400(api, acme):
    for raw in (b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000, nested(33),
                b"[" * 100_000):  # unbalanced, never parsed
        assert_error(api.call("POST", "/v1/accounts", raw=raw), 400, "invalid_request")
        assert_error(api.call("POST", f"/v1/apps/{acme}/purchases", raw=raw), 400, "invalid_request")
    # 32 levels are parsed (and then refused by the model); brackets inside strings do not count
    r = api.call("POST", "/v1/accounts", raw=nested(32))
    assert_error(r, 400, "invalid_request")
    assert "32" not in r.body["error"]["message"]
    assert api.call("POST", "/v1/accounts/acme/apps", {"name": "[" * 100, "region": "us"}).status == 201


def test_a_body_over_1_mib_is_413(api, acme):
    big = b'{"amount": "1.00", "kind": "cash"' + b" " * (1024 * 1024) + b"}"  # unknown fields are 400s: pad with blanks
    assert_error(api.call("POST", "/v1/accounts/acme/topups", raw=big), 413, "payload_too_large")
    assert_error(api.call("GET", "/v1/accounts/acme", raw=big), 413, "payload_too_large")
    fits = b'{"amount": "1.00", "kind": "cash"' + b" " * (1024 * 1024 - 100) + b"}"
    assert api.call("POST", "/v1/accounts/acme/topups", raw=fits).status == 201
    assert api.balance()["cash"] == "501.00"


@pytest.mark.parametrize("amount", ["١٠٠.٠٠", "１００", "1٠0", "١", "𝟏𝟎𝟎", "100\n", "0", "0.00", "00.50", "+1"])
def test_amounts_take_ascii_digits_only(api, acme, amount):
    assert_error(api.call("POST", "/v1/accounts/acme/topups", {"amount": amount, "kind": "cash"}), 400,
                 "invalid_request")
    assert_error(api.call("POST", "/v1/accounts/acme/vouchers", {"amount": amount}), 400, "invalid_request")
    assert api.balance()["cash"] == "500.00"
    assert api.ok("GET", "/v1/accounts/acme/vouchers")["items"] == []


def test_positive_amounts_in_every_documented_form_are_accepted(api, acme):
    for amount, total in (("0.01", "500.01"), ("0.5", "500.51"), ("1", "501.51"), (2, "503.51"), ("10.10", "513.61"),
                          (1.0, "514.61")):  # a whole JSON number is an integer, as in JSON Schema
        r = api.ok("POST", "/v1/accounts/acme/topups", {"amount": amount, "kind": "cash"})
        assert r["balance"]["cash"] == total


LONG_ID = "a" * 2100


def test_ids_over_128_characters_or_with_control_characters_are_400(api, acme):
    for account_id in (LONG_ID, "a" * 129, "ac\x00me", "ac\u202eme", "acme\n"):
        body = {"account_id": account_id, "email": "a@x.test", "phone": "+15550100"}
        assert_error(api.call("POST", "/v1/accounts", body), 400, "invalid_request")
    for path in (f"/v1/accounts/{LONG_ID}", f"/v1/accounts/{LONG_ID}/ledger", f"/v1/accounts/{LONG_ID}/apps",
                 "/v1/accounts/ac\x00me", "/v1/accounts/ac\u202eme", f"/v1/jobs/{LONG_ID}/runs"):
        method = "POST" if path.endswith("runs") else "GET"
        assert_error(api.call(method, path, {"at": "2026-03-01T00:00:00Z"}), 400, "invalid_request")
    assert_error(api.call("POST", f"/v1/accounts/{LONG_ID}/topups", {"amount": "1.00", "kind": "cash"}), 400,
                 "invalid_request")
    r = api.call("POST", "/v1/usage/logins", {"sdkappid": acme, "user_ids": ["u1", LONG_ID]}, role="service")
    assert_error(r, 400, "invalid_request")
    assert r.body["error"]["message"].startswith("user_ids.1: ")
    # 128 is still fine
    assert api.call("POST", "/v1/accounts", {"account_id": "b" * 128, "email": "b@x.test", "phone": "+1555"}).status \
        == 201
    assert api.ok("GET", f"/v1/accounts/{'b' * 128}")["account_id"] == "b" * 128


def test_numbers_in_paths_and_queries_are_ascii_and_bounded(api, acme):
    for limit in ("1" * 4300, "²", "١٠", "", "0", "1001", "-1", "1.0", " 5"):
        assert_error(api.call("GET", f"/v1/accounts/acme/ledger?limit={limit}"), 400, "invalid_request")
    for sdkappid in ("²", "١", "1" * 4300):
        assert_error(api.call("GET", f"/v1/apps/{sdkappid}"), 404, "not_found")
    assert len(api.ok("GET", "/v1/accounts/acme/ledger?limit=1000", expect=200)["items"]) == 1


BAD_NAMES = ["", "n" * 129, "a\x00b", "tab\there", "new\nline", "\x7f", "\u202egnp.exe", "rtl\u2067", "x\u200e"]


def test_names_and_regions_refuse_control_and_bidi_characters(api, acme):
    for name in BAD_NAMES:
        r = api.call("POST", "/v1/accounts/acme/apps", {"name": name, "region": "eu"})
        assert_error(r, 400, "invalid_request")
        assert r.body["error"]["message"].startswith("name: ")
        assert_error(api.call("POST", "/v1/accounts/acme/apps", {"name": "ok", "region": name}), 400,
                     "invalid_request")
    assert api.ok("GET", "/v1/accounts/acme")["apps_count"] == 1
    assert api.call("POST", "/v1/accounts/acme/apps", {"name": "聊天 💬 app", "region": "eu-west"}).status == 201


BAD_EMAILS = ["", "plain", "@x.test", "a@", "a@@x.test", "a b@x.test", "a@x.test\n", "a\u202e@x.test", "a@x\x00.test",
              "ä@x.test", "a@-x.test", "a@x..test", "a" * 65 + "@x.test", "a@" + "x" * 260]
BAD_PHONES = ["", "12", "phone", "+", "+1 555 0100 ext 3", "1" * 21, "+1--555", "١٥٥٥٠١٠٠", "+1555\n", "+1555\u202e"]


def test_emails_and_phones_must_be_well_formed(api, acme):
    for email in BAD_EMAILS:
        r = api.call("POST", "/v1/accounts", {"account_id": "e", "email": email, "phone": "+15550100"})
        assert_error(r, 400, "invalid_request")
        assert r.body["error"]["message"].startswith("email: ")
    for phone in BAD_PHONES:
        r = api.call("POST", "/v1/accounts", {"account_id": "p", "email": "p@x.test", "phone": phone})
        assert_error(r, 400, "invalid_request")
        assert r.body["error"]["message"].startswith("phone: ")
    assert_error(api.call("GET", "/v1/accounts/e"), 404, "not_found")
    for i, (email, phone) in enumerate([("first.last+tag@mail.example.com", "+1 555-0100"), ("a@b", "555")]):
        assert api.call("POST", "/v1/accounts", {"account_id": f"ok{i}", "email": email, "phone": phone}).status == 201


def test_a_voucher_expiring_in_the_past_is_400(api, acme):
    for expires_at in ("2026-02-28T23:59:59Z", "2026-03-01T00:00:00Z", "2026-03-01T01:00:00+02:00"):
        r = api.call("POST", "/v1/accounts/acme/vouchers", {"amount": "10.00", "expires_at": expires_at})
        assert_error(r, 400, "invalid_request")
    assert api.ok("GET", "/v1/accounts/acme/vouchers")["items"] == []
    v = api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "10.00", "expires_at": "2026-03-01T00:00:01Z"})
    assert v["expires_at"] == "2026-03-01T00:00:01Z"


def test_instants_follow_the_documented_form(api, acme):
    for at in ("", "2026-03-01", "2026-03-01T00:00Z", "2026-03-01 00:00:00Z", "20260301T000000Z",
               "２０２６-03-01T00:00:00Z", "2026-03-01T00:00:00z", "2026-03-01T00:00:00Z\n"):
        r = api.call("POST", "/v1/accounts/acme/vouchers", {"amount": "1.00", "expires_at": at})
        assert_error(r, 400, "invalid_request")
        assert r.body["error"]["message"].startswith("expires_at: ")


# ------------------------------------------------------------------ one error shape
def test_chalice_refusals_come_in_the_contract_shape(api, acme):
    r = api.call("PATCH", "/v1/accounts/acme")
    assert_error(r, 405, "method_not_allowed")
    assert_error(api.call("DELETE", "/v1/accounts/acme/topups"), 405, "method_not_allowed")
    r = api.call("POST", "/v1/accounts/acme/topups", headers={"Content-Type": "text/plain"}, raw=b"amount=1")
    assert_error(r, 415, "unsupported_media_type")
    r = api.call("POST", "/v1/accounts/acme/topups", headers={"Content-Type": "application/xml"}, raw=b"<a/>")
    assert_error(r, 415, "unsupported_media_type")
    assert api.balance()["cash"] == "500.00"


def test_an_unhandled_error_is_a_500_in_the_contract_shape(api, acme, monkeypatch):
    from chalicelib.services import accounts

    def boom(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(accounts, "get_account", boom)
    r = api.call("GET", "/v1/accounts/acme")
    assert_error(r, 500, "internal_error")
    assert "secret" not in json.dumps(r.body)


def test_validation_messages_name_the_field_without_pydantic_internals(api, acme):
    cases = [
        ("POST", "/v1/accounts/acme/topups", {"amount": "1.001", "kind": "cash"}, "amount: "),
        ("POST", "/v1/accounts/acme/topups", {"amount": 1.5, "kind": "cash"}, "amount: "),
        ("POST", "/v1/accounts/acme/topups", {"kind": "cash"}, "amount is required"),
        ("POST", "/v1/accounts/acme/topups", {"amount": "1.00", "kind": "bitcoin"}, "kind: "),
        ("POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": 25}, "months: "),
        ("POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": 1, "voucher_id": 5}, "voucher_id: "),
        ("POST", "/v1/usage/push", {"sdkappid": acme, "broadcast_calls": 1, "messages": 1, "at": ""}, "at: "),
    ]
    for method, path, body, start in cases:
        r = api.call(method, path, body)
        assert_error(r, 400, "invalid_request")
        message = r.body["error"]["message"]
        assert message.startswith(start), message
        for internal in ("constrained", "function-", "[type=", "pydantic", "Value error", "input_value"):
            assert internal not in message, message


def test_no_error_echoes_the_callers_token(api, acme):
    token = mint_token("customer", "acme")
    forged = token[:-6] + "AAAAAA"
    requests = [
        ("GET", "/v1/accounts/acme", {"Authorization": f"Bearer {forged}"}),
        ("GET", "/v1/accounts/acme", {"Authorization": forged}),
        ("GET", "/v1/accounts/acme/topups", {"Authorization": f"Bearer {token}"}),  # 405
        ("POST", "/v1/accounts/acme/topups", {"Authorization": f"Bearer {token}"}),  # 403
        ("POST", "/v1/accounts/acme/topups", {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}),
        ("GET", "/v1/accounts/other", {"Authorization": f"Bearer {token}"}),  # 404
    ]
    for method, path, headers in requests:
        r = api.call(method, path, role=None, headers=headers)
        assert r.status >= 400 and set(r.body) == {"error"}, r.body
        text = json.dumps(r.body)
        assert token not in text and forged not in text and token.split(".")[1] not in text


def test_whole_json_numbers_are_integers_as_in_json_schema(api, acme):
    """JSON Schema's `integer` includes 3.0: what the document calls valid, the server accepts."""
    r = api.call("POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": 1.0})
    assert r.status == 201 and r.body["order"]["months"] == 1
    for months in (1.5, 0.0, 25.0, "1", True):
        r = api.call("POST", f"/v1/apps/{acme}/purchases", {"edition": "standard", "months": months})
        assert_error(r, 400, "invalid_request")
        assert r.body["error"]["message"] == "months: a whole number from 1 to 24"
