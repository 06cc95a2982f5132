def test_purchase_walkthrough(api):
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    sid = api.app("acme")
    r = api.buy(sid, "standard", 1)
    assert r["order"]["paid_cash"] == "399.00"
    assert r["balance"] == {"cash": "601.00", "gift": "0.00", "total": "601.00"}
    api.clock("2026-03-11T00:00:00Z")
    q = api.ok("GET", f"/v1/apps/{sid}/refund-quote")
    assert q["used_value"] == "128.71" and q["total"] == "270.29"
