"""Feeding the stream handler where there is no Lambda: `imbill serve` (DynamoDB Local's streams)
and the tests (moto's). DescribeTable -> LatestStreamArn, DescribeStream -> shards,
GetShardIterator (TRIM_HORIZON the first time: the handler is idempotent, so replaying what a
previous run applied changes nothing) and GetRecords until each open shard is drained."""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.periodic import Periodic
from chalicelib.readmodels.streams import stream_tables
from chalicelib.services.context import Contexts
from chalicelib.services.event_feed import apply_stream

log = logging.getLogger("imbill.views")


class StreamPoller:
    def __init__(self, contexts: Contexts, endpoint: str | None = None) -> None:
        s = contexts.settings
        host = endpoint if endpoint is not None else s.dynamodb_endpoint
        self.contexts = contexts
        # account-id endpoints (<account>.streams-ddb.<region>...) are AWS-only; emulators take the plain one
        plain = Config(account_id_endpoint_mode="disabled")
        self.ddb = boto3.client("dynamodb", region_name=s.region, endpoint_url=host, config=plain)
        self.streams = boto3.client("dynamodbstreams", region_name=s.region, endpoint_url=host, config=plain)
        self.iterators: dict[tuple[str, str], str | None] = {}  # (stream arn, shard id) -> next iterator
        self.applied = 0

    def _shards(self, arn: str) -> list[str]:
        shards: list[str] = []
        start: str | None = None
        while True:
            kw: dict[str, Any] = {"StreamArn": arn}
            if start:
                kw["ExclusiveStartShardId"] = start
            desc = self.streams.describe_stream(**kw)["StreamDescription"]
            shards += [s["ShardId"] for s in desc.get("Shards", [])]
            start = desc.get("LastEvaluatedShardId")
            if not start:
                return shards

    def poll_once(self) -> int:
        """Read every shard of every stream until it has nothing more now; answer records applied."""
        total = 0
        for model in stream_tables():
            arn = self.ddb.describe_table(TableName=model.Meta.table_name)["Table"].get("LatestStreamArn")
            if not arn:
                continue
            for shard in self._shards(arn):
                key = (arn, shard)
                if key not in self.iterators:
                    self.iterators[key] = self.streams.get_shard_iterator(
                        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                total += self._drain(arn, key)
        self.applied += total
        return total

    def _drain(self, arn: str, key: tuple[str, str]) -> int:
        done = 0
        while self.iterators[key]:
            try:
                out = self.streams.get_records(ShardIterator=self.iterators[key], Limit=1000)
            except (self.streams.exceptions.TrimmedDataAccessException,
                    self.streams.exceptions.ExpiredIteratorException):
                # DynamoDB Local answers Trimmed for a horizon iterator of a shard still empty; an
                # iterator idle 15 min expires: start the shard again (replays are idempotent)
                del self.iterators[key]
                return done
            records = out.get("Records", [])
            for r in records:
                r.setdefault("eventSourceARN", arn)
                created = r.get("dynamodb", {}).get("ApproximateCreationDateTime")
                if created is not None and not isinstance(created, int | float | str):
                    r["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
            apply_stream(records, self.contexts)
            done += len(records)
            self.iterators[key] = out.get("NextShardIterator")  # a closed shard answers None
            if not records:
                break  # nothing more now; the next poll goes on from here
        return done


class PollerThread(Periodic):
    """`imbill serve`: poll every `interval_s` in a daemon thread until stopped."""

    name = "imbill-streams"
    failure = "stream poll failed; retrying"  # from the same iterators
    failure_pause = 1.0

    def __init__(self, poller: StreamPoller, interval_s: float = 0.25) -> None:
        super().__init__(interval_s, log, join_timeout=5)
        self.poller = poller

    def beat(self) -> None:
        self.poller.poll_once()
        from chalicelib.services import webhooks
        from chalicelib.services.event_feed import FEED

        webhooks.deliver_due(self.poller.contexts.now(FEED))  # the local deliverer: due by the service clock


def start_local_poller(contexts: Contexts) -> PollerThread:
    return PollerThread(StreamPoller(contexts)).start()
