"""Webhook deliveries to a real local HTTP receiver (http.server in a thread): fed from the events
table's stream, signed (checked here with the standard library's hmac, independently of the code),
retried after a 500 and a timeout, de-duplicable by event id, delivered again after the deliverer
died between the POST and its mark; the secret rotation's overlap; the operators' feed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib import bootstrap
from chalicelib.local.poller import StreamPoller
from chalicelib.services import webhooks
from tests.composed import contexts, job_ctx

TIMEOUT_S = 0.3  # the test's delivery timeout (10 s in service)


class Receiver:
    """Answers each POST by the next step of `script` (a status, or ("slow", status): after the
    timeout), then 200; records every request (headers, raw body)."""

    def __init__(self) -> None:
        self.script: list[Any] = []
        self.got: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                step = receiver.script.pop(0) if receiver.script else 200
                if isinstance(step, tuple):
                    time.sleep(TIMEOUT_S * 3)
                    step = step[1]
                answer = b"x" * 5000
                try:
                    self.send_response(step)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the deliverer gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/imbill"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def verify(headers: dict[str, str], body: bytes, secret: str) -> bool:
    """The receiver's check, written here from the contract alone (stdlib hmac)."""
    parts = [p.split("=", 1) for p in headers["imbill-signature"].split(",")]
    t = next(v for k, v in parts if k == "t")
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts)


SENDER = webhooks.Sender(timeout_s=TIMEOUT_S)


def at(now: datetime) -> Any:
    return job_ctx("event-feed", now, ZoneInfo("UTC"))


def feed() -> None:
    """The events table's stream, read as `imbill serve`'s poller does."""
    StreamPoller(contexts(ZoneInfo("UTC"))).poll_once()


def test_a_purchase_is_delivered_signed_after_a_500_and_a_timeout(api, receiver) -> None:  # type: ignore[no-untyped-def]
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    sid = api.app("acme")
    hook = api.ok("POST", "/v1/accounts/acme/webhooks", {"url": receiver.url, "events": ["package.purchased"]})
    assert hook["status"] == "enabled" and hook["secret"].startswith("whsec_")
    assert "secret" not in api.ok("GET", "/v1/accounts/acme/webhooks")["items"][0]
    bought = api.buy(sid)
    feed()
    feed()  # the stream read again from its horizon: no second delivery
    receiver.script = [500, ("slow", 200)]
    t0 = bootstrap.current().clock.now()
    assert webhooks.deliver_due(at(t0), SENDER) == {"pending": 1}  # 500
    assert webhooks.deliver_due(at(t0 + timedelta(seconds=10)), SENDER) == {}  # backing off (30 s)
    assert webhooks.deliver_due(at(t0 + timedelta(seconds=31)), SENDER) == {"pending": 1}  # too slow
    assert webhooks.deliver_due(at(t0 + timedelta(seconds=92)), SENDER) == {"delivered": 1}
    assert webhooks.deliver_due(at(t0 + timedelta(days=1)), SENDER) == {}

    assert len(receiver.got) == 3
    bodies = {body for _, body in receiver.got}
    assert len(bodies) == 1  # the same bytes every time
    ids = {h["imbill-event-id"] for h, _ in receiver.got}
    assert len(ids) == 1  # what a receiver de-duplicates by
    for headers, body in receiver.got:
        assert verify(headers, body, hook["secret"])
        assert not verify(headers, body, "whsec_wrong")
        assert headers["imbill-event-type"] == "package.purchased"
    event = receiver.events()[0]
    assert (event["event_id"], event["type"], event["data"]) == (ids.pop(), "package.purchased", bought)
    assert event["actor"] == {"role": "operator"}  # an account's endpoint sees operators by role only

    (d,) = api.ok("GET", f"/v1/webhooks/{hook['webhook_id']}/deliveries")["items"]
    assert (d["status"], d["attempts"], d["last_status"], d["event_type"]) == ("delivered", 3, 200, "package.purchased")
    assert len(d["last_response"]) == 1024  # at most 1 KB of the answer kept
    # a manual retry sends it once more, at once
    again = api.ok("POST", f"/v1/webhooks/{hook['webhook_id']}/deliveries/{d['delivery_id']}/retry", expect=200)
    assert again["status"] == "delivered" and again["attempts"] == 4 and len(receiver.got) == 4


def test_a_deliverer_that_dies_between_send_and_mark_delivers_again(api, receiver) -> None:  # type: ignore[no-untyped-def]
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="10.00")
    hook = api.ok("POST", "/v1/accounts/acme/webhooks", {"url": receiver.url, "events": ["*"]})
    api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "5.00"})
    feed()
    t0 = bootstrap.current().clock.now()
    ctx = at(t0)
    with ctx.uow() as u:
        pending = u.deliveries.due(t0, 10)
    # its own creation and what came after (not the account's events before it existed)
    assert [d.event_type for d in pending] == ["webhook.created", "voucher.granted"]

    class Killed(BaseException):
        pass

    def die(*_: Any) -> None:
        raise Killed

    with pytest.raises(Killed):
        webhooks.attempt(ctx, pending[1], SENDER, mark=die)
    assert len(receiver.got) == 1
    # the dead attempt's lease holds its delivery; the other one goes
    assert webhooks.deliver_due(at(t0 + timedelta(seconds=30)), SENDER) == {"delivered": 1}
    assert webhooks.deliver_due(at(t0 + timedelta(seconds=61)), SENDER) == {"delivered": 1}
    sent = [h["imbill-event-id"] for h, _ in receiver.got]
    assert sent == [pending[1].delivery_id, pending[0].delivery_id, pending[1].delivery_id]  # once more, same id
    assert all(verify(h, b, hook["secret"]) for h, b in receiver.got)


def test_a_rotated_secret_signs_beside_the_new_one_for_24_hours(api, receiver) -> None:  # type: ignore[no-untyped-def]
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme")
    body = {"url": receiver.url, "events": ["voucher.granted"]}
    hook = api.ok("POST", "/v1/accounts/acme/webhooks", body, key="w1")
    assert api.ok("POST", "/v1/accounts/acme/webhooks", body, key="w1") == hook  # a retry: the same endpoint
    assert len(api.ok("GET", "/v1/accounts/acme/webhooks")["items"]) == 1
    rotated = api.ok("POST", f"/v1/webhooks/{hook['webhook_id']}/rotate-secret", expect=200)
    assert rotated["secret"] != hook["secret"]
    api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "5.00"})
    feed()
    t0 = bootstrap.current().clock.now()
    webhooks.deliver_due(at(t0), SENDER)
    headers, body = receiver.got[-1]
    assert headers["imbill-signature"].count("v1=") == 2
    assert verify(headers, body, hook["secret"]) and verify(headers, body, rotated["secret"])
    api.clock("2026-03-02T00:00:01Z")
    api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "6.00"})
    feed()
    webhooks.deliver_due(at(bootstrap.current().clock.now()), SENDER)
    headers, body = receiver.got[-1]
    assert headers["imbill-signature"].count("v1=") == 1
    assert verify(headers, body, rotated["secret"]) and not verify(headers, body, hook["secret"])


def test_the_operators_feed_gets_every_account_s_events_with_full_actors(api, receiver) -> None:  # type: ignore[no-untyped-def]
    api.clock("2026-03-01T00:00:00Z")
    ops = api.ok("POST", "/v1/ops/webhooks", {"url": receiver.url, "events": ["account.created"]})
    assert ops["account_id"] is None
    assert api.call("POST", "/v1/ops/webhooks", {"url": receiver.url, "events": ["*"]}, role="customer",
                    account="acme").status == 403
    api.account("acme")
    api.account("beta")
    feed()
    webhooks.deliver_due(at(bootstrap.current().clock.now()), SENDER)
    got = receiver.events()
    assert sorted(e["account_id"] for e in got) == ["acme", "beta"]
    assert all(e["actor"] == {"role": "operator", "sub": "operator"} for e in got)
    assert api.call("GET", f"/v1/webhooks/{ops['webhook_id']}/deliveries", role="customer",
                    account="acme").status == 404
    gone = api.ok("DELETE", f"/v1/webhooks/{ops['webhook_id']}", expect=200)
    assert gone["status"] == "deleted" and api.ok("GET", "/v1/ops/webhooks")["items"] == []
