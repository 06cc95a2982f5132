"""Deployed delivery paths on moto: every event put on the stage's EventBridge bus (source imbill,
detail-type = type, detail = the Event) in PutEvents batches of 10, refused entries put again; the
webhook deliveries' queue worked by the worker (a delivery not yet due goes back with its delay)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib import config
from chalicelib.integrations import eventbridge
from chalicelib.services import event_feed
from chalicelib.store.dynamodb.models import EventModel
from tests.aws_actions import recording
from tests.composed import contexts
from tests.integration.test_webhooks import Receiver

REGION = "us-east-1"


@pytest.fixture(name="receiver")
def local_receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def stream_records() -> list[dict[str, Any]]:
    """The events table's items as its stream delivers them (NEW_IMAGE inserts)."""
    return [{"eventName": "INSERT", "eventSourceARN": "arn:x:dynamodb:r:1:table/test-events/stream/1",
             "dynamodb": {"NewImage": e.serialize()}} for e in sorted(EventModel.scan(), key=lambda e: e.event_id)]


class Flaky:
    """A client whose first PutEvents refuses every other entry (as EventBridge may, throttled)."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, []  # type: ignore[var-annotated]

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls.append(len(Entries))
        if len(self.calls) == 1:
            kept = Entries[1::2]
            out = self.real.put_events(Entries=kept)
            results = [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"} if i % 2 == 0 else
                       out["Entries"][i // 2] for i in range(len(Entries))]
            return {"FailedEntryCount": (len(Entries) + 1) // 2, "Entries": results}
        return self.real.put_events(Entries=Entries)  # type: ignore[no-any-return]


def bus_with_a_queue(name: str) -> str:
    """A bus whose rule for source imbill sends every event to a queue (answers its URL)."""
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name=name)
    url = sqs.create_queue(QueueName=f"{name}-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=name, EventPattern=json.dumps({"source": ["imbill"]}))
    events.put_targets(Rule="all", EventBusName=name, Targets=[{"Id": "q", "Arn": arn}])
    return url


def drain(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(batch)])
    return out


def test_events_go_on_the_bus_in_batches_of_10_and_refused_entries_are_put_again(api) -> None:  # type: ignore[no-untyped-def]
    tap = bus_with_a_queue("imbill-dev")
    client = Flaky(boto3.client("events", region_name=REGION))
    events = [{"event_id": f"ev{i:03d}", "type": "app.created", "data": {"n": i}} for i in range(23)]
    calls = eventbridge.put_events(client, "imbill-dev", events, sleep=lambda s: None)
    assert client.calls == [10, 5, 10, 3] and calls == 4  # the refused half of the first 10 put again
    got = drain(tap)
    assert sorted(m["detail"]["event_id"] for m in got) == [e["event_id"] for e in events]  # each once
    assert {(m["source"], m["detail-type"]) for m in got} == {("imbill", "app.created")}


def test_an_entry_refused_every_time_fails_the_batch() -> None:
    class Refusing:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
            return {"FailedEntryCount": len(Entries), "Entries": [{"ErrorCode": "InternalFailure"}] * len(Entries)}

    with pytest.raises(eventbridge.PutFailed, match="InternalFailure"):
        eventbridge.put_events(Refusing(), "imbill-dev", [{"type": "app.created"}], sleep=lambda s: None)


def test_the_events_stream_feeds_the_bus_and_the_deliveries_queue(api, receiver, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tap = bus_with_a_queue("imbill-dev")
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="imbill-dev-webhooks")["QueueUrl"]
    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="10.00")
    hook = api.ok("POST", "/v1/accounts/acme/webhooks", {"url": receiver.url, "events": ["voucher.granted"]})
    api.ok("POST", "/v1/accounts/acme/vouchers", {"amount": "5.00"})
    monkeypatch.setenv("IMBILL_EVENT_BUS", "imbill-dev")
    monkeypatch.setenv("IMBILL_WEBHOOKS_QUEUE_URL", queue)
    config.reset_settings()
    with recording() as actions:
        assert event_feed.on_records(contexts(), stream_records()) == {"events": 4, "deliveries": 1}
    assert {"events:PutEvents", "sqs:SendMessage"} <= actions
    on_bus = drain(tap)
    assert sorted(m["detail-type"] for m in on_bus) == ["account.created", "account.topped_up", "voucher.granted",
                                                        "webhook.created"]
    assert all(m["source"] == "imbill" and m["detail"]["type"] == m["detail-type"] for m in on_bus)
    assert sorted(m["detail"]["event_id"] for m in on_bus) == sorted(e.event_id for e in EventModel.scan())
    # the batch again (Lambda retries it: say the bus refused): the delivery not attempted yet is queued
    # again, in case its first message was lost; the worker delivers it once
    monkeypatch.delenv("IMBILL_EVENT_BUS")
    config.reset_settings()
    assert event_feed.on_records(contexts(), stream_records()) == {"events": 4, "deliveries": 1}
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 2
    out = event_feed.handle_batch(contexts(), [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages])
    assert out == {"batchItemFailures": []}
    (headers, body), = receiver.got
    assert headers["imbill-event-type"] == "voucher.granted" and json.loads(body)["type"] == "voucher.granted"
    (d,) = api.ok("GET", f"/v1/webhooks/{hook['webhook_id']}/deliveries")["items"]
    assert d["status"] == "delivered"


def test_the_template_adds_the_bus_the_queues_an_alarm_and_put_events_on_that_bus_only() -> None:
    from infra.package import add_event_delivery

    role = {"Fn::GetAtt": ["DefaultRole", "Arn"]}
    res: dict[str, Any] = {"StreamHandler": {"Type": "AWS::Serverless::Function", "Properties": {"Role": role}},
                           "WebhookDeliverer": {"Type": "AWS::Serverless::Function", "Properties": {"Role": role}}}
    add_event_delivery(res, "prod")
    assert res["EventBus"]["Properties"] == {"Name": "imbill-prod"}
    assert res["WebhooksQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == \
        {"Fn::GetAtt": ["WebhooksDeadLetterQueue", "Arn"]}
    assert res["WebhooksDeadLetterAlarm"]["Type"] == "AWS::CloudWatch::Alarm"
    from infra.policy import policy

    streams = policy("prod", "StreamHandler", template=True)["Statement"]
    (bus,) = [s for s in streams if "events:PutEvents" in s["Action"]]  # PutEvents on that bus only
    assert bus["Action"] == ["events:PutEvents"] and bus["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/imbill-prod"}
    assert not any("events:PutEvents" in s["Action"] for fn in ("APIHandler", "JobsWorker", "WebhookDeliverer")
                   for s in policy("prod", fn, template=True)["Statement"])
    (queue,) = [s for s in streams if s["Sid"] == "WebhooksQueue"]
    assert queue == {"Sid": "WebhooksQueue", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                     "Resource": {"Fn::GetAtt": ["WebhooksQueue", "Arn"]}}
    assert "arn:aws:" not in json.dumps(res) + json.dumps(streams)
    for fn in ("StreamHandler", "WebhookDeliverer"):
        env = res[fn]["Properties"]["Environment"]["Variables"]
        assert env == {"IMBILL_WEBHOOKS_QUEUE_URL": {"Ref": "WebhooksQueue"}, "IMBILL_EVENT_BUS": "imbill-prod"}


def test_the_outbox_adds_one_item_to_each_transaction_and_no_request(api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from chalicelib.store.port import UnitOfWork
    from tests.integration.requests import count_requests

    api.clock("2026-03-01T00:00:00Z")
    api.account("acme", cash="1000.00")
    sid = api.app("acme")
    items: list[int] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        items.append(len(params.get("TransactItems", [])))

    def moves() -> Any:
        with count_requests() as counter:
            api.buy(sid)
            api.ok("POST", "/v1/accounts/acme/topups", {"amount": "1.00", "kind": "cash"})
        return counter.calls

    from chalicelib.store.dynamodb import plumbing

    client = plumbing.connection().client
    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", seen)
    try:
        with_events = moves()
        outbox_items = list(items)
        items.clear()
        monkeypatch.setattr(UnitOfWork, "emit", lambda self, event: None)
        without = moves()
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.TransactWriteItems", seen)
    assert with_events == without and with_events["TransactWriteItems"] == 2
    assert [n - 1 for n in outbox_items] == items  # exactly one more item (the event) in each transaction
