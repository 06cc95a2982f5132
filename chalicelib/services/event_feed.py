"""What the events table's stream feeds: the webhook deliveries (and, deployed, their queue messages)
and the EventBridge bus. :func:`apply_stream` is the stream handler (Lambda in app.py, the local
poller in chalicelib/local/poller.py): the read views (chalicelib/readmodels/streams.py), then this feed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from chalicelib import aws
from chalicelib.config import Settings
from chalicelib.integrations import eventbridge
from chalicelib.readmodels.streams import apply_records
from chalicelib.services import events, webhooks
from chalicelib.services.context import Contexts
from chalicelib.store.dynamodb.models import DeliveryModel, EventModel

log = logging.getLogger("imbill.webhooks")
FEED = "event-feed"  # the system actor of what the feed itself changes (an endpoint disabled)
MAX_DELAY_S = 900  # SQS's longest message delay


def inserted(records: Iterable[dict[str, Any]]) -> list[EventModel]:
    """The events of a batch of stream records (events are only ever inserted)."""
    out = []
    for r in records:
        image = r.get("dynamodb", {}).get("NewImage")
        if r.get("eventName") == "INSERT" and image:
            out.append(EventModel.from_raw_data(image))
    return out


def apply_stream(records: Iterable[dict[str, Any]], contexts: Contexts) -> dict[str, int]:
    """A batch of DynamoDB Streams records: the views of the view tables (in the composition's billing
    zone), this feed for the events (at the composition's clock)."""
    return apply_records(records, contexts.tz, on_events=lambda events: on_records(contexts, events))


def on_records(contexts: Contexts, records: Iterable[dict[str, Any]]) -> dict[str, int]:
    items = inserted(records)
    if not items:
        return {}
    ctx = contexts.now(FEED)
    made = webhooks.fan_out(ctx, items)
    s = ctx.settings
    if s.webhooks_queue_url:
        enqueue(s, made, 0)
    if s.event_bus:
        eventbridge.put_events(aws.client("events", s.region), s.event_bus, [events.as_dict(e) for e in items])
    return {"events": len(items), "deliveries": len(made)}


def enqueue(s: Settings, deliveries: list[DeliveryModel], delay_s: int) -> None:
    """One webhooks-queue message per delivery, visible after `delay_s` (at most SQS's 15 min)."""
    sqs = aws.client("sqs", s.region)
    delay = max(0, min(MAX_DELAY_S, delay_s))
    for d in deliveries:
        sqs.send_message(QueueUrl=s.webhooks_queue_url, DelaySeconds=delay,
                         MessageBody=json.dumps({"webhook_id": d.webhook_id, "delivery_id": d.delivery_id}))


def handle_batch(contexts: Contexts, records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Lambda's SQS event: the ids of the messages to deliver again (ReportBatchItemFailures)."""
    failures = []
    for record in records:
        try:
            handle_queue(contexts, [record["body"]])
        except Exception:  # noqa: BLE001 - one message's error never fails the others of the batch
            log.exception("webhook delivery message %s failed; it will be delivered again", record.get("messageId"))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def handle_queue(contexts: Contexts, bodies: Iterable[str]) -> dict[str, int]:
    """The deliveries worker (deployed): each message names a delivery; one not yet due goes back
    on the queue with the remaining delay (at most 15 min a hop), a due one is attempted and, when
    still pending, goes back with its back-off. A crash leaves the message to SQS's visibility
    timeout: delivered again (receivers de-duplicate by event id)."""
    ctx = contexts.now(FEED)
    counts: dict[str, int] = {}
    for body in bodies:
        ref = json.loads(body)
        with ctx.uow() as u:
            d = u.deliveries.get(ref["webhook_id"], ref["delivery_id"])
        if d is None or d.status != "pending" or d.next_attempt_at is None:
            outcome = "done"
        elif d.next_attempt_at > ctx.now:
            enqueue(ctx.settings, [d], int((d.next_attempt_at - ctx.now).total_seconds()) + 1)
            outcome = "waiting"
        else:
            try:
                d = webhooks.attempt(ctx, d)
                outcome = d.status
            except webhooks.WriteConflict:
                outcome = "taken"
            if d.status == "pending" and d.next_attempt_at is not None:
                enqueue(ctx.settings, [d], int((d.next_attempt_at - ctx.now).total_seconds()) + 1)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
