"""The SSRF guard: outside the local stage only https to public addresses; a host is resolved and
refused when any address it resolves to is loopback, private, link-local or metadata; checked at
creation (the API) and again at each delivery (a name that moved to a private address is not called)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.integrations import webhook_http
from chalicelib.integrations.webhook_http import Refused, check_url
from chalicelib.services import webhooks
from chalicelib.services.context import Principal
from chalicelib.services.idempotency import NONE
from chalicelib.store.dynamodb.models import AccountModel, DeliveryModel
from tests.composed import make_ctx
from tests.fakes.uow import FakeStore

NAMES = {"hooks.example.com": ["93.184.216.34"], "inside.example.com": ["93.184.216.34", "10.0.0.7"],
         "meta.example.com": ["169.254.169.254"], "v6local.example.com": ["::1"]}


def resolver(host: str, port: int) -> list[str]:
    return NAMES.get(host, [host.strip("[]")])


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://10.0.0.1/hook", "https://10.255.1.2:8443/x", "https://172.16.3.4/x",
    "https://192.168.1.1/x", "https://169.254.169.254/latest/meta-data", "https://[::1]/hook",
    "https://[fc00::1]/x", "https://[fe80::1]/x", "https://[::ffff:127.0.0.1]/x", "https://0.0.0.0/x",
    "https://inside.example.com/hook", "https://meta.example.com/x", "https://v6local.example.com/x",
])
def test_outside_local_private_loopback_link_local_and_metadata_addresses_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        check_url(url, local=False, resolver=resolver)


def test_outside_local_only_https_to_a_public_address_is_accepted() -> None:
    target = check_url("https://hooks.example.com/in?x=1", local=False, resolver=resolver)
    assert (target.host, target.port, target.path, target.address) == ("hooks.example.com", 443, "/in?x=1",
                                                                        "93.184.216.34")
    for url in ("http://hooks.example.com/in", "ftp://hooks.example.com/", "https://user:pw@hooks.example.com/"):
        with pytest.raises(Refused):
            check_url(url, local=False, resolver=resolver)


def test_the_local_stage_allows_http_and_loopback() -> None:
    assert check_url("http://127.0.0.1:9000/h", local=True, resolver=resolver).address == "127.0.0.1"


def test_a_real_name_resolving_to_loopback_is_refused_outside_local() -> None:
    with pytest.raises(Refused, match="127.0.0.1|::1"):
        check_url("https://localhost/hook", local=False)


def test_the_api_refuses_a_private_url_outside_local(monkeypatch: pytest.MonkeyPatch) -> None:
    store = FakeStore()
    ctx = make_ctx(now=datetime(2026, 3, 1, tzinfo=UTC), tz=ZoneInfo("UTC"), principal=Principal("operator", sub="ada"),
              uow=store.uow)
    with store.uow() as u:
        u.accounts.add(AccountModel("acme", email="a@x.test", phone="+1555", due_shard="0",
                                    created_at=ctx.now))
        u.commit()
    monkeypatch.setattr(webhooks, "local_stage", lambda ctx: False)
    with pytest.raises(Refused):
        webhooks.create(ctx, "acme", "https://10.1.2.3/hook", ["*"], NONE, lambda w: (201, {}))
    with pytest.raises(Refused):
        webhooks.create(ctx, "acme", "http://127.0.0.1:8080/hook", ["*"], NONE, lambda w: (201, {}))
    status, _ = webhooks.create(ctx, "acme", "https://93.184.216.34/hook", ["*"], NONE, lambda w: (201, {}))
    assert status == 201

    # the name moved to a private address after creation: the delivery does not call it
    (hook,) = store.uow().webhooks.of_owner("acme")
    d = DeliveryModel(hook.webhook_id, "ev1", event_type="account.created", body="{}", status="pending", attempts=0,
                      created_at=ctx.now, due_shard="0", next_attempt_at=ctx.now)
    with store.uow() as u:
        u.deliveries.add(d)
        u.commit()
    called: list[object] = []
    sender = webhooks.Sender(check=lambda url: check_url(url, False, resolver=lambda h, p: ["10.9.9.9"]),
                             post=lambda *a: called.append(a) or webhook_http.Answer(200, "", None, 0.0))
    out = webhooks.attempt(ctx, d, sender)
    assert called == [] and out.status == "pending" and out.last_error is not None and "refused" in out.last_error
