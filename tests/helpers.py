"""A small HTTP driver over Chalice's test client, speaking the contract."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.api.auth import mint_token


@dataclass
class Resp:
    status: int
    body: Any

    @property
    def code(self) -> str | None:
        return self.body.get("error", {}).get("code") if isinstance(self.body, dict) else None


def assert_error(r: Resp, status: int, code: str) -> None:
    """The contract's error: that status and code, exactly `{"error": {"code", "message"}}`."""
    assert (r.status, r.code) == (status, code), r.body
    assert set(r.body) == {"error"} and set(r.body["error"]) == {"code", "message"}, r.body
    assert isinstance(r.body["error"]["message"], str) and r.body["error"]["message"]


class Api:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.tokens: dict[tuple[str, str | None], str] = {}

    def token(self, role: str, account: str | None = None) -> str:
        key = (role, account)
        if key not in self.tokens:
            self.tokens[key] = mint_token(role, account)
        return self.tokens[key]

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        role: str | None = "operator",
        account: str | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Resp:
        h = {"Content-Type": "application/json"}
        if role is not None:
            h["Authorization"] = f"Bearer {self.token(role, account)}"
        if key is not None:
            h["Idempotency-Key"] = key
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        r = self.client.http.request(method, path, headers=h, body=data)
        try:
            parsed = json.loads(r.body) if r.body else None
        except ValueError:
            parsed = r.body
        return Resp(r.status_code, parsed)

    def transport(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """The CLI's transport (chalicelib/cli_client.py) through this in-process client, as an operator."""
        r = self.call(method, path, body, headers=headers)
        return r.status, r.body

    def ok(self, method: str, path: str, body: Any = None, expect: int | None = None, **kw: Any) -> Any:
        r = self.call(method, path, body, **kw)
        want = expect or (201 if method == "POST" else 200)
        assert r.status == want, f"{method} {path} -> {r.status} {r.body}"
        return r.body

    # ------------------------------------------------------------ scenario helpers
    def clock(self, now: str, run_jobs: bool = False) -> Any:
        return self.ok("PUT", "/v1/test/clock", {"now": now, "run_jobs": run_jobs}, expect=200)

    def advance(self, **delta: int) -> Any:
        return self.ok("POST", "/v1/test/clock/advance", delta, expect=200)

    def account(self, account_id: str = "acme", cash: str | None = None, gift: str | None = None) -> str:
        body = {"account_id": account_id, "email": f"{account_id}@x.test", "phone": "+15550100"}
        self.ok("POST", "/v1/accounts", body)
        if cash:
            self.ok("POST", f"/v1/accounts/{account_id}/topups", {"amount": cash, "kind": "cash"})
        if gift:
            self.ok("POST", f"/v1/accounts/{account_id}/topups", {"amount": gift, "kind": "gift"})
        return account_id

    def app(self, account_id: str = "acme", name: str = "chat") -> int:
        return int(self.ok("POST", f"/v1/accounts/{account_id}/apps", {"name": name, "region": "us"})["sdkappid"])

    def buy(self, sdkappid: int, edition: str = "standard", months: int = 1, **extra: Any) -> Any:
        return self.ok("POST", f"/v1/apps/{sdkappid}/purchases", {"edition": edition, "months": months, **extra})

    def plugin(self, sdkappid: int, plugin: str, months: int = 1) -> Any:
        return self.ok("POST", f"/v1/apps/{sdkappid}/plugins", {"plugin": plugin, "months": months})

    def paid_app(self, at: str, cash: str, edition: str = "standard", months: int = 1,
                 plugins: tuple[str, ...] = ()) -> int:
        """The clock at `at`, account acme with `cash`, one app on `edition` for `months`, plugins bought."""
        self.clock(at)
        self.account("acme", cash=cash)
        sid = self.app()
        self.buy(sid, edition, months)
        for name in plugins:
            self.plugin(sid, name)
        return sid

    def balance(self, account_id: str = "acme") -> dict[str, str]:
        return self.ok("GET", f"/v1/accounts/{account_id}")["balance"]  # type: ignore[no-any-return]

    def ledger_sum(self, account_id: str = "acme") -> tuple[str, str]:
        from decimal import Decimal

        items = self.ok("GET", f"/v1/accounts/{account_id}/ledger?limit=1000")["items"]
        cash = sum((Decimal(e["cash"]) for e in items), Decimal("0"))
        gift = sum((Decimal(e["gift"]) for e in items), Decimal("0"))
        return f"{cash:.2f}", f"{gift:.2f}"


class Killed(BaseException):
    """A process killed in the middle of a job run (not an item's error, which a run survives)."""
