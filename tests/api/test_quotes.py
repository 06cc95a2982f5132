"""POST /v1/apps/{id}/purchases/quote (and plugins/addons/quote): what a purchase would charge, computed by
the purchase's own code in a unit of work that is never committed. Exact amounts (billing-rules 4, example 4)."""

from __future__ import annotations


def _cust(api, method, path, body=None, expect=None):
    return api.ok(method, path, body, expect=expect, role="customer", account="acme")


def test_upgrade_quote_equals_what_the_upgrade_charges_and_writes_nothing(api):
    api.clock("2026-06-01T00:00:00Z")
    api.account("acme", cash="900.00", gift="10.00")
    sid = api.app("acme")
    api.buy(sid, "standard", 1)
    api.clock("2026-06-16T00:00:00Z")
    before = (api.balance(), api.ok("GET", "/v1/accounts/acme/ledger")["items"], api.ok("GET", f"/v1/apps/{sid}"))

    quote = _cust(api, "POST", f"/v1/apps/{sid}/purchases/quote", {"edition": "pro", "months": 1}, expect=200)
    assert quote == {
        "product": "pro", "kind": "upgrade", "tier": None, "months": 1, "at": "2026-06-16T00:00:00Z",
        "starts_at": "2026-06-16T00:00:00Z", "ends_at": "2026-07-16T00:00:00Z", "price": "699.00",
        "voucher_amount": "0.00", "paid_cash": "699.00", "paid_gift": "0.00",
        "credit": {"total": "199.50", "cash": "199.50", "gift": "0.00"},
        "amount_due": "499.50", "balance_after": {"cash": "1.50", "gift": "10.00", "total": "11.50"},
    }
    assert _cust(api, "POST", f"/v1/apps/{sid}/purchases/quote", {"edition": "pro", "months": 1},
                 expect=200) == quote  # asking twice is the same answer: nothing was written
    assert (api.balance(), api.ok("GET", "/v1/accounts/acme/ledger")["items"],
            api.ok("GET", f"/v1/apps/{sid}")) == before

    bought = _cust(api, "POST", f"/v1/apps/{sid}/purchases", {"edition": "pro", "months": 1})
    order = bought["order"]
    assert {k: order[k] for k in ("starts_at", "ends_at", "price", "voucher_amount", "paid_cash", "paid_gift")} == {
        k: quote[k] for k in ("starts_at", "ends_at", "price", "voucher_amount", "paid_cash", "paid_gift")}
    assert bought["credit"] == quote["credit"] and bought["balance"] == quote["balance_after"]


def test_quote_with_a_voucher_and_a_renewal(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    sid = api.app("acme")
    voucher = api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "50.00"})["voucher_id"]
    q = _cust(api, "POST", f"/v1/apps/{sid}/purchases/quote",
              {"edition": "standard", "months": 2, "voucher_id": voucher}, expect=200)
    assert (q["kind"], q["price"], q["voucher_amount"], q["paid_cash"], q["credit"], q["amount_due"],
            q["balance_after"]["total"], q["ends_at"]) == (
        "new", "798.00", "50.00", "748.00", None, "748.00", "252.00", "2026-05-01T00:00:00Z")


def test_quote_refuses_what_the_purchase_refuses(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="100.00")
    sid = api.app("acme")
    r = api.call("POST", f"/v1/apps/{sid}/purchases/quote", {"edition": "standard", "months": 1},
                 role="customer", account="acme")
    assert (r.status, r.code) == (402, "insufficient_balance")
    r = api.call("POST", f"/v1/apps/{sid}/purchases/quote", {"edition": "standard", "months": 99},
                 role="customer", account="acme")
    assert r.status == 400
    api.account("beta", cash="1000.00")
    r = api.call("POST", f"/v1/apps/{sid}/purchases/quote", {"edition": "standard", "months": 1},
                 role="customer", account="beta")
    assert r.status == 404  # another account's app


def test_plugin_and_addon_quotes_equal_their_purchases(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="3000.00")
    sid = api.app("acme")
    api.buy(sid, "standard", 1)
    for kind, body in (("plugins", {"plugin": "push", "months": 2}),
                       ("addons", {"addon": "desk", "months": 1})):
        quote = _cust(api, "POST", f"/v1/apps/{sid}/{kind}/quote", body, expect=200)
        bought = _cust(api, "POST", f"/v1/apps/{sid}/{kind}", body)
        order = bought["order"]
        assert {k: quote[k] for k in ("price", "paid_cash", "paid_gift", "starts_at", "ends_at")} == {
            k: order[k] for k in ("price", "paid_cash", "paid_gift", "starts_at", "ends_at")}
        assert quote["balance_after"] == bought["balance"]
        assert quote["amount_due"] == order["price"]
