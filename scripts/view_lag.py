"""How far the read views lag the writes: against a running service (IMBILL_URL, IMBILL_TOKEN of an
operator), buy N renewals and time each until /v1/ops/revenue shows it, and create accounts and time
each until /v1/accounts?q= finds it.

    IMBILL_URL=http://127.0.0.1:8000 IMBILL_TOKEN=... python scripts/view_lag.py [N]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from decimal import Decimal
from typing import Any

BASE = os.environ.get("IMBILL_URL", "http://127.0.0.1:8000").rstrip("/")
TOKEN = os.environ["IMBILL_TOKEN"]


def call(method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(BASE + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def wait_for(check: Any, timeout_s: float = 30.0) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError("the view did not catch up")
        time.sleep(0.01)
    return time.monotonic() - start


def report(name: str, lags: list[float]) -> None:
    lags = sorted(lags)
    p95 = lags[max(0, round(0.95 * len(lags)) - 1)]
    print(f"{name}: n={len(lags)} median {statistics.median(lags) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms")


def main(n: int) -> None:
    tag = uuid.uuid4().hex[:6]
    account = f"lag-{tag}"
    call("POST", "/v1/accounts", {"account_id": account, "email": f"{account}@x.test", "phone": "+15550100"})
    call("POST", f"/v1/accounts/{account}/topups", {"amount": "100000.00", "kind": "cash"})
    sid = call("POST", f"/v1/accounts/{account}/apps", {"name": "lag", "region": "eu"})["sdkappid"]
    month = call("GET", f"/v1/accounts/{account}/ledger")["items"][-1]["at"][:7]  # the service clock's month (UTC)

    def sales() -> Decimal:
        return Decimal(call("GET", f"/v1/ops/revenue?from={month}&to={month}")["items"][0]["prepaid_sales"])

    purchase_lags = []
    for _ in range(n):
        seen = sales()
        order = call("POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1})["order"]
        paid = Decimal(order["paid_cash"]) + Decimal(order["paid_gift"])  # timed from the 201
        purchase_lags.append(wait_for(lambda seen=seen, paid=paid: sales() >= seen + paid))
    account_lags = []
    for i in range(n):
        new = f"lagacct-{tag}-{i}"
        call("POST", "/v1/accounts", {"account_id": new, "email": f"{new}@x.test", "phone": "+15550100"})
        account_lags.append(wait_for(lambda new=new: any(a["account_id"] == new for a in
                                                 call("GET", f"/v1/accounts?q={new}")["items"])))
    report("revenue view after a purchase", purchase_lags)
    report("accounts view after an account", account_lags)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
