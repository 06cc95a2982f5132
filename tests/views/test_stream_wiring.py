"""app.py wires the read-view handler to each stream whose ARN the deployment gives, and the handler
takes Lambda's DynamoDB event (Chalice's DynamoDBEvent) as it comes."""

from __future__ import annotations

import pytest

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/imbill-dev-{}/stream/2026-01-01T00:00:00.000"


def test_stream_handlers_registered_from_the_environment():
    from chalice import Chalice

    from chalicelib.readmodels.streams import wire_streams

    app = Chalice("t")
    env = {f"IMBILL_STREAM_ARN_{b.upper()}": ARN.format(b) for b in ("accounts", "ledger", "notifications")}
    names = wire_streams(app, lambda event: None, env)
    assert names == ["views_from_accounts", "views_from_ledger", "views_from_notifications"]
    sources = {h.name: (h.stream_arn, h.starting_position) for h in app.event_sources}
    tables = ("accounts", "ledger", "notifications")
    assert sources == {f"views_from_{b}": (ARN.format(b), "TRIM_HORIZON") for b in tables}
    assert wire_streams(Chalice("u"), lambda event: None, {}) == []


@pytest.mark.storage
def test_lambda_event_shape_reaches_the_views(api, monkeypatch):
    """A Lambda DynamoDB event for a ledger INSERT, through the Chalice handler function."""
    from chalice.app import DynamoDBEvent

    import app as module
    from chalicelib.store.dynamodb.models import LedgerModel

    api.paid_app("2026-03-01T00:00:00Z", cash="1000.00")
    entry = next(e for e in LedgerModel.query("acme") if e.kind == "purchase")
    image = entry.serialize()
    record = {"eventID": "1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
              "awsRegion": "us-east-1",
              "eventSourceARN": ARN.format("ledger").replace("imbill-dev-", LedgerModel.Meta.table_name[:-6]),
              "dynamodb": {"ApproximateCreationDateTime": 1772323200, "Keys": {}, "NewImage": image,
                           "SequenceNumber": "1", "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    event = DynamoDBEvent({"Records": [record, record]}, None)
    assert module._on_stream(event) == {"ledger": 2}
    assert api.ok("GET", "/v1/ops/revenue?from=2026-03&to=2026-03")["items"][0]["prepaid_sales"] == "399.00"
