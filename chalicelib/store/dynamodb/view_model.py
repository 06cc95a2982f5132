"""The `views` table: every read view item, one table, keyed (pk, sk). Layout in docs/data-model.md."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute

from chalicelib.store.dynamodb.models import DUE_SHARDS, _Base

VIEW_SHARDS = DUE_SHARDS  # revenue counters and notification lists are spread over this many partitions


class ViewModel(_Base):
    class Meta(_Base.Meta):
        base_name = "views"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    # revenue counters (cents), ADDed once per ledger entry
    prepaid_sales = NumberAttribute(null=True)
    refunds = NumberAttribute(null=True)
    credits = NumberAttribute(null=True)
    postpaid_bills = NumberAttribute(null=True)
    # pointer to the source item (accounts, notifications)
    account_id = UnicodeAttribute(null=True)
    ref = UnicodeAttribute(null=True)
    # job runs
    job = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    summary = UnicodeAttribute(null=True)  # JSON of the run's counts
    failed = NumberAttribute(null=True)
    # job heartbeats (one per job and local day): runs covered, items acted on
    runs = NumberAttribute(null=True)
    acted = NumberAttribute(null=True)
    # guards of applied stream records expire after the stream's 24 h retention (+ a day)
    expires = TTLAttribute(null=True)



def shard_of(text: str) -> int:
    return sum(text.encode()) % VIEW_SHARDS
