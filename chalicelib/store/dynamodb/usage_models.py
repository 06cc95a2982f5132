"""Usage, user sets and bills (issue: usage metering and postpaid billing).

- UsageModel: one summary item per app per local month ("2026-05") and per local day
  ("2026-05-10"): the counters a bill needs. Month items carry `month_shard` so the settlement
  job finds the apps (and so the accounts) with usage in a month through an index, not a scan.
- UserSeenModel: one item per (app, month, user): writing it again is harmless (MAU is exact).
- BillModel: one item per (account, period, kind); the key is deterministic and written with a
  not-exists condition, so a bill is never posted twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import (
    Attribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.dynamodb.models import _Base, due_shard, plain_map

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
    # month: {"<plugin>.<meter>": count} of every other monthly meter (COUNTER_ATTRIBUTES: the first ones)
    meters: MapAttribute[str, Any] = MapAttribute(null=True)
    version = NumberAttribute(default=0)
    expires = TTLAttribute(null=True)

    by_month = UsageByMonthIndex()

    def counters(self) -> dict[str, int]:
        """The month's count of every monthly meter, by "<plugin>.<meter>" (bills.meter_key)."""
        out = {key: int(v) for key, v in plain_map(self.meters).items()}
        for key, attr in COUNTER_ATTRIBUTES.items():
            out[key] = out.get(key, 0) + int(getattr(self, attr.attr_name) or 0)
        return out


# The first meters have attributes of their own (written before the `meters` map existed, and still
# written there: a report of them is one UpdateItem). Every other meter lives in `meters`.
COUNTER_ATTRIBUTES: dict[str, Attribute[Any]] = {
    "push.messages": UsageModel.push_messages,
    "search.stored_messages": UsageModel.search_stored,
    "search.requests": UsageModel.search_requests,
}


# Counters of a Counts write (store/port.py) that have attributes of their own; any other is a
# key of the month item's `meters` map.
OWN_COUNTERS: dict[str, Attribute[Any]] = {
    "mau": UsageModel.mau, "push.calls": UsageModel.push_calls, **COUNTER_ATTRIBUTES,
}
UNBILLED = "#unbilled"  # period suffix of a reclaimed app's month counters kept for the settlement


def is_month(period: str) -> bool:
    """A month record ("2026-05"), not a day's ("2026-05-10") nor an unbilled one."""
    return len(period) == len("2026-05")


def identity(account_id: str, sdkappid: int, period: str, expires: Any) -> dict[str, Any]:
    """What every write of a usage record sets: its owner and expiry, and on a month record the
    settlement index keys (by_month), whichever counter it moves."""
    out: dict[str, Any] = {"account_id": account_id}
    if is_month(period):
        out["month_shard"] = f"{period}#{due_shard(account_id)}"
        out["account_app"] = f"{account_id}#{int(sdkappid)}"
    out["expires"] = expires
    return out


def users_key(sdkappid: int, month: str) -> str:
    """Partition of an app's users of a month in UserSeenModel."""
    return f"{sdkappid}#{month}"


class UserSeenModel(_Base):
    class Meta(_Base.Meta):
        base_name = "usage-users"

    app_month = UnicodeAttribute(hash_key=True)  # "<sdkappid>#2026-05"
    user_id = UnicodeAttribute(range_key=True)
    expires = TTLAttribute(null=True)

    @classmethod
    def of(cls, sdkappid: int, month: str, user_id: str, expires: datetime) -> UserSeenModel:
        return cls(users_key(sdkappid, month), user_id, expires=expires)


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

