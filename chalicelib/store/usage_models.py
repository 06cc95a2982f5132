"""Usage, user sets and bills (issue: usage metering and postpaid billing).

- UsageModel: one summary item per app per local month ("2026-05") and per local day
  ("2026-05-10"): the counters a bill needs. Month items carry `month_shard` so the settlement
  job finds the apps (and so the accounts) with usage in a month through an index, not a scan.
- UserSeenModel: one item per (app, month, user): writing it again is harmless (MAU is exact).
- BillModel: one item per (account, period, kind); the key is deterministic and written with a
  not-exists condition, so a bill is never posted twice.
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.models import _Base

USAGE_SHARDS = 4


class UsageByMonthIndex(GlobalSecondaryIndex["UsageModel"]):
    class Meta:
        index_name = "by_month"
        projection = AllProjection()

    month_shard = UnicodeAttribute(hash_key=True)  # "2026-05#<shard of account>"
    account_app = UnicodeAttribute(range_key=True)  # "<account_id>#<sdkappid>"


class UsageModel(_Base):
    class Meta(_Base.Meta):
        base_name = "usage"

    sdkappid = NumberAttribute(hash_key=True)
    period = UnicodeAttribute(range_key=True)  # local month "2026-05" or local day "2026-05-10"
    account_id = UnicodeAttribute()
    month_shard = UnicodeAttribute(null=True)  # month items only (sparse index)
    account_app = UnicodeAttribute(null=True)
    mau = NumberAttribute(default=0)  # month: distinct users (exact; from the user items)
    push_messages = NumberAttribute(default=0)  # month
    search_stored = NumberAttribute(default=0)  # month
    search_requests = NumberAttribute(default=0)  # month
    push_calls = NumberAttribute(default=0)  # day: broadcast/tag push API calls accepted
    version = NumberAttribute(default=0)
    expires = TTLAttribute(null=True)

    by_month = UsageByMonthIndex()


class UserSeenModel(_Base):
    class Meta(_Base.Meta):
        base_name = "usage-users"

    app_month = UnicodeAttribute(hash_key=True)  # "<sdkappid>#2026-05"
    user_id = UnicodeAttribute(range_key=True)
    expires = TTLAttribute(null=True)


class BillLineMap(MapAttribute[str, object]):
    sdkappid = NumberAttribute()
    item = UnicodeAttribute()  # mau_overage | push_message_overage | search_storage_overage | ...
    quantity = NumberAttribute()
    unit_price = UnicodeAttribute()  # decimal text of the catalog ("0.015", "4.00")
    amount = NumberAttribute()  # cents


class BillModel(_Base):
    class Meta(_Base.Meta):
        base_name = "bills"

    account_id = UnicodeAttribute(hash_key=True)
    bill_key = UnicodeAttribute(range_key=True)  # "<period>#<kind>": deterministic
    kind = UnicodeAttribute()  # monthly | daily
    period = UnicodeAttribute()
    lines = ListAttribute(of=BillLineMap, default=list)
    total = NumberAttribute()
    posted_at = UTCDateTimeAttribute()
    charged_cash = NumberAttribute(default=0)
    charged_gift = NumberAttribute(default=0)

