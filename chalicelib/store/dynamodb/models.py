"""PynamoDB models: the one definition of every table, used by moto tests, DynamoDB Local and infra/.

Table names carry a per-stage prefix; :func:`configure` points every model at the configured
endpoint (DynamoDB Local, moto server or AWS). Access patterns are listed in docs/data-model.md.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import Connection, TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.config import settings

STREAM_VIEW = "NEW_AND_OLD_IMAGES"  # tables whose Meta sets stream_view_type feed chalicelib/views
DUE_SHARDS = 4  # default of IMBILL_DUE_SHARDS: a hot due day is spread over this many index partitions


def due_shard(sdkappid: int | str) -> str:
    """Shard of the due-time indexes: a stable function of the item's key modulo the configured
    number of shards, written on the item when it is created and never moved (docs/capacity.md)."""
    n = settings().due_shards
    if isinstance(sdkappid, str):
        return str(sum(sdkappid.encode()) % n)
    return str(sdkappid % n)


def read_shards() -> range:
    """Every shard an item may have been written in: 0 .. max(IMBILL_DUE_SHARDS, IMBILL_DUE_SHARDS_READ) - 1."""
    s = settings()
    return range(max(s.due_shards, s.due_shards_read))


class _Base(Model):
    class Meta:
        abstract = True
        base_name = "unset"  # the table's name after the stage prefix
        table_name = "unset"
        region = "us-east-1"
        host: str | None = None
        billing_mode = "PAY_PER_REQUEST"
        max_retry_attempts = 3

    @classmethod
    def update_ttl(cls, ignore_update_ttl_errors: bool) -> None:
        """Enable TTL (called by `create_table`) only when the service runs on the wall clock.

        DynamoDB deletes an item once its TTL attribute passes the *wall clock*; the service writes
        expiries in *its* clock. Under the test clock those differ (a record written at a simulated
        2026-03-10 "expires" months ago), and DynamoDB Local's sweeper would delete idempotency
        records and user-months that are still live, so a retried key would charge twice."""
        if settings().test_clock:
            return
        super().update_ttl(ignore_update_ttl_errors)

    @classmethod
    def _get_connection(cls) -> TableConnection:
        """PynamoDB gives each model its own Connection (a botocore session and client each: 12 of
        them cost ~1.6 s CPU and ~100 MiB on a cold start); every model here shares one."""
        fresh = cls._connection is None or cls._connection.table_name != cls.Meta.table_name
        table = super()._get_connection()
        if fresh:
            shared = shared_connection()
            meta = table.connection.get_meta_table(cls.Meta.table_name)
            shared._tables[meta.table_name] = meta  # the model's current schema (it may have gained indexes)
            table.connection = shared
        return table


_shared: Connection | None = None


def shared_connection() -> Connection:
    """The one DynamoDB connection (botocore client) of the process, for the configured endpoint."""
    global _shared
    host, region = _Base.Meta.host, _Base.Meta.region
    if _shared is None or _shared.host != host or _shared.region != region:
        # one pool for every model and transaction: room for a local server's concurrent clients
        _shared = Connection(region=region, host=host, max_retry_attempts=3, max_pool_connections=64)
    return _shared


def forget_shared_connection() -> None:
    """The next use makes a new connection (chalicelib.store.dynamodb.tables.reset_connections)."""
    global _shared
    _shared = None




# ---------------------------------------------------------------- accounts
class ArrearsDueIndex(GlobalSecondaryIndex["AccountModel"]):
    class Meta:
        index_name = "arrears_due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    arrears_due_at = UTCDateTimeAttribute(range_key=True)


class AccountModel(_Base):
    class Meta(_Base.Meta):
        base_name = "accounts"
        stream_view_type = STREAM_VIEW  # feeds the read views (chalicelib/views)

    account_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    phone = UnicodeAttribute()
    status = UnicodeAttribute(default="active")  # active | arrears
    arrears_since = UTCDateTimeAttribute(null=True)
    arrears_due_at = UTCDateTimeAttribute(null=True)  # sparse: the next bill's posting + 24 h still unenforced
    arrears_later_dues: ListAttribute[str] = ListAttribute(null=True)  # later bills' deadlines (ISO), sorted
    due_shard = UnicodeAttribute()
    cash = NumberAttribute(default=0)  # cents, may be negative (postpaid shortfall)
    gift = NumberAttribute(default=0)  # cents
    apps_count = NumberAttribute(default=0)  # apps not reclaimed
    ledger_seq = NumberAttribute(default=0)  # last ledger entry number
    version = NumberAttribute(default=0)  # optimistic concurrency for every account write
    created_at = UTCDateTimeAttribute()
    # the last local month whose settlement decided the account, and what it decided (billed |
    # no_charge): a later run of the month's window passes the account without reading it again
    settled_month = UnicodeAttribute(null=True)
    settled_outcome = UnicodeAttribute(null=True)
    # every sdkappid the account created (reclaimed ones stay), added in the app's creating commit:
    # the settlement reads the month items of the account's apps by key, with no by_account Query.
    # The whole list only when it holds at least apps_count ids (an account older than the list:
    # its apps are found through by_account, and its next bill writes the list found)
    app_ids = NumberSetAttribute(null=True)
    # ---- renewal management and account controls (issue 18)
    held_cash = NumberAttribute(null=True)  # cents reserved by open renewal batches (not spendable)
    held_gift = NumberAttribute(null=True)
    contacts = UnicodeAttribute(null=True)  # JSON: the own contact's subscriptions, up to 10 more (domain.contacts)
    alert_threshold = NumberAttribute(null=True)  # cents: the balance alert's threshold (None: no alert)
    alert_armed = BooleanAttribute(null=True)  # the next downward crossing sends `balance_low`

    arrears_due = ArrearsDueIndex()


# ---------------------------------------------------------------- apps
class AppsByAccountIndex(GlobalSecondaryIndex["AppModel"]):
    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    sdkappid = NumberAttribute(range_key=True)


class WarnDueIndex(GlobalSecondaryIndex["AppModel"]):
    class Meta:
        index_name = "warn_due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    warn_due_at = UTCDateTimeAttribute(range_key=True)


class EnforceDueIndex(GlobalSecondaryIndex["AppModel"]):
    class Meta:
        index_name = "enforce_due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    enforce_due_at = UTCDateTimeAttribute(range_key=True)


class ReclaimDueIndex(GlobalSecondaryIndex["AppModel"]):
    class Meta:
        index_name = "reclaim_due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    reclaim_due_at = UTCDateTimeAttribute(range_key=True)


class QuotaChangeMap(MapAttribute[str, Any]):
    at = UTCDateTimeAttribute()
    quota = NumberAttribute()


class OffSpanMap(MapAttribute[str, Any]):
    """A time the app was out of service (stopped or disabled), for MAU proration."""

    off_at = UTCDateTimeAttribute()
    on_at = UTCDateTimeAttribute(null=True)  # None: still out of service
    edition = UnicodeAttribute()  # the edition it had when it went out of service


class PushBillingIndex(GlobalSecondaryIndex["AppModel"]):
    """Apps whose push quota was above 100 recently: the push-quota-billing job's work list."""

    class Meta:
        index_name = "push_billing"
        projection = AllProjection()

    push_billing_shard = UnicodeAttribute(hash_key=True)
    sdkappid = NumberAttribute(range_key=True)


class AppModel(_Base):
    class Meta(_Base.Meta):
        base_name = "apps"

    sdkappid = NumberAttribute(hash_key=True)
    account_id = UnicodeAttribute()
    name = UnicodeAttribute()
    region = UnicodeAttribute()
    edition = UnicodeAttribute()  # the catalog's trial edition when created (services.apps.create_app)
    status = UnicodeAttribute(default="enabled")  # enabled | disabled | stopped | reclaimed
    stop_reason = UnicodeAttribute(null=True)  # expired | arrears
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    auto_renew = BooleanAttribute(default=False)
    stopped_at = UTCDateTimeAttribute(null=True)
    disabled_at = UTCDateTimeAttribute(null=True)
    disabled_reason = UnicodeAttribute(null=True)  # refunded | requested (issue 18)
    reclaimed_at = UTCDateTimeAttribute(null=True)
    purge_pending = BooleanAttribute(null=True)  # reclaimed, its data not yet deleted (lifecycle.reclaim)
    off_log = ListAttribute(of=OffSpanMap, null=True)  # recent out-of-service spans (domain.app.OffSpan)
    had_paid = BooleanAttribute(default=False)  # once paid, never Developer again
    version = NumberAttribute(default=0)  # optimistic concurrency for every app write
    due_shard = UnicodeAttribute()
    # sparse due-time attributes: present only while a job has something to do for the app
    warn_due_at = UTCDateTimeAttribute(null=True)
    last_warned_day = UnicodeAttribute(null=True)
    enforce_due_at = UTCDateTimeAttribute(null=True)
    reclaim_due_at = UTCDateTimeAttribute(null=True)
    renew_attempted_for = UTCDateTimeAttribute(null=True)  # the expiry whose auto-renew was tried
    # plugin / add-on state (deleted on reclamation)
    push_quota = NumberAttribute(null=True)  # daily broadcast-call quota in force (>= 100)
    push_quota_log = ListAttribute(of=QuotaChangeMap, null=True)  # recent changes, for daily push bills
    push_billing_shard = UnicodeAttribute(null=True)  # sparse: present while a quota above 100 may bill
    # {plugin: end of its paid periods, ISO-8601 UTC}: see until()
    plugins_until: MapAttribute[str, Any] = MapAttribute(null=True)
    once_used = UnicodeSetAttribute(null=True)  # {"<add-on>:<tier>"} of the once-per-app tiers it has had
    # before plugins_until / once_used (read, and moved on the next write of the same fact)
    legacy_push_until = UTCDateTimeAttribute(null=True, attr_name="push_until")
    legacy_search_until = UTCDateTimeAttribute(null=True, attr_name="search_until")
    legacy_call_trial_used = BooleanAttribute(null=True, attr_name="call_trial_used")
    # ---- renewal management (issue 18): base package mode `none`; plugin/add-on lines (domain.renewal, JSON)
    no_renew = BooleanAttribute(null=True)
    renewal_extras = UnicodeAttribute(null=True)
    packages_sig = UnicodeAttribute(null=True)  # what its package items (PackageModel) were last written from

    by_account = AppsByAccountIndex()
    warn_due = WarnDueIndex()
    enforce_due = EnforceDueIndex()
    reclaim_due = ReclaimDueIndex()
    push_billing = PushBillingIndex()

    # ---- plugin ends and once-per-app tiers, keyed by product (any product of the catalog)
    def until(self, product: str) -> datetime | None:
        """End of the plugin's paid periods (None: never bought, or cleared)."""
        stored = plain_map(self.plugins_until)
        if product in stored:
            return _instant(stored[product])
        legacy = _LEGACY_UNTIL.get(product)
        return getattr(self, legacy) if legacy else None

    def set_until(self, product: str, at: datetime | None) -> None:
        stored = plain_map(self.plugins_until)
        for name, attr in _LEGACY_UNTIL.items():  # moved into the map on this write
            if getattr(self, attr) is not None and name not in stored:
                stored[name] = _text(getattr(self, attr))
            setattr(self, attr, None)
        if at is None:
            stored.pop(product, None)
        else:
            stored[product] = _text(at)
        self.plugins_until = stored or None  # type: ignore[assignment]

    def plugins_with_until(self) -> list[str]:
        return sorted({*plain_map(self.plugins_until),
                       *(name for name, attr in _LEGACY_UNTIL.items() if getattr(self, attr) is not None)})

    def used_once(self, product: str, tier: str | None) -> bool:
        key = f"{product}:{tier}"
        return key in (self.once_used or set()) or (key == _LEGACY_ONCE and bool(self.legacy_call_trial_used))

    def mark_used_once(self, product: str, tier: str | None) -> None:
        used = set(self.once_used or set()) | {f"{product}:{tier}"}
        if self.legacy_call_trial_used:
            used.add(_LEGACY_ONCE)
        self.legacy_call_trial_used = None
        self.once_used = used

    def clear_used_once(self) -> None:
        self.once_used = None
        self.legacy_call_trial_used = None


# attributes written before the generic ones (docs/data-model.md): still read, moved when written
_LEGACY_UNTIL = {"push": "legacy_push_until", "search": "legacy_search_until"}
_LEGACY_ONCE = "call:trial"
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def plain_map(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return dict(value.as_dict() if isinstance(value, MapAttribute) else value)


def _text(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_STAMP)


def _instant(text: str) -> datetime:
    return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)


# ---------------------------------------------------------------- orders
class PeriodMap(MapAttribute[str, Any]):
    starts_at = UTCDateTimeAttribute()
    ends_at = UTCDateTimeAttribute()
    paid_cash = NumberAttribute()
    paid_gift = NumberAttribute()


class OrderModel(_Base):
    class Meta(_Base.Meta):
        base_name = "orders"

    sdkappid = NumberAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)  # sortable by creation: o<yyyymmddHHMMSSffffff><seq:012d><rand>
    account_id = UnicodeAttribute()
    product = UnicodeAttribute()  # standard | pro | push | search | desk | chatbot | call
    kind = UnicodeAttribute()  # new | renewal | upgrade | auto_renewal | reactivation
    tier = UnicodeAttribute(null=True)
    quantity = NumberAttribute(default=1)
    months = NumberAttribute()
    starts_at = UTCDateTimeAttribute()
    ends_at = UTCDateTimeAttribute()
    price = NumberAttribute()
    monthly_price = NumberAttribute()  # list price of one month, the refund's used value
    voucher_id = UnicodeAttribute(null=True)
    voucher_amount = NumberAttribute(default=0)
    paid_cash = NumberAttribute()
    paid_gift = NumberAttribute()
    refunded = BooleanAttribute(default=False)
    refunded_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    periods = ListAttribute(of=PeriodMap, default=list)


# ---------------------------------------------------------------- vouchers
class VoucherModel(_Base):
    class Meta(_Base.Meta):
        base_name = "vouchers"

    account_id = UnicodeAttribute(hash_key=True)
    voucher_id = UnicodeAttribute(range_key=True)
    amount = NumberAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    used_by_order = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


# ---------------------------------------------------------------- ledger
class LedgerModel(_Base):
    class Meta(_Base.Meta):
        base_name = "ledger"
        stream_view_type = STREAM_VIEW  # feeds the read views (chalicelib/views)

    account_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)  # 1, 2, 3... = the account's ledger_seq after the move
    at = UTCDateTimeAttribute()
    kind = UnicodeAttribute()  # topup | purchase | refund | credit | bill
    cash = NumberAttribute()
    gift = NumberAttribute()
    balance_cash = NumberAttribute()
    balance_gift = NumberAttribute()
    ref = UnicodeAttribute(null=True)


# ---------------------------------------------------------------- idempotency
class IdempotencyModel(_Base):
    class Meta(_Base.Meta):
        base_name = "idempotency"

    key = UnicodeAttribute(hash_key=True)  # <principal>#<route>#<Idempotency-Key>
    request_hash = UnicodeAttribute()
    status_code = NumberAttribute()
    # the first answer's JSON, zlib-compressed (a purchase's ~900 bytes in ~450: the record stays
    # under 1 KB, one write unit); `body` (plain JSON) on records written before
    body_z = BinaryAttribute(null=True, legacy_encoding=False)
    body = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires = TTLAttribute()


# ---------------------------------------------------------------- meta (clock, counters)
class MetaModel(_Base):
    class Meta(_Base.Meta):
        base_name = "meta"

    name = UnicodeAttribute(hash_key=True)
    value = UnicodeAttribute(null=True)
    counter = NumberAttribute(default=0)
    # the scheduler mark's lease: the one process (and thread) running scheduled instants now
    lease_owner = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)  # epoch seconds (wall time: a liveness bound, not billing time)


# ---------------------------------------------------------------- notifications (outbox)
class NotificationsByAppIndex(GlobalSecondaryIndex["NotificationModel"]):
    class Meta:
        index_name = "by_app"
        projection = AllProjection()

    sdkappid = NumberAttribute(hash_key=True)
    notification_id = UnicodeAttribute(range_key=True)


class SendDueIndex(GlobalSecondaryIndex["NotificationModel"]):
    """Sparse: only notifications not yet handed to SES/SNS (`send_due_at` is removed once sent)."""

    class Meta:
        index_name = "send_due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    send_due_at = UTCDateTimeAttribute(range_key=True)


class NotificationModel(_Base):
    class Meta(_Base.Meta):
        base_name = "notifications"
        stream_view_type = STREAM_VIEW  # feeds the read views (chalicelib/views)

    account_id = UnicodeAttribute(hash_key=True)
    notification_id = UnicodeAttribute(range_key=True)  # <instant>#<kind>#<sdkappid|bill key>#<channel>: dedupe, order
    at = UTCDateTimeAttribute()
    kind = UnicodeAttribute()  # expiry_warning | stopped | arrears | reclaimed | bill
    channel = UnicodeAttribute()  # email | sms
    to = UnicodeAttribute()
    sdkappid = NumberAttribute(null=True)
    subject = UnicodeAttribute()
    body = UnicodeAttribute()
    # delivery: pending (send_due_at set: the dispatcher's retry time) -> sent | failed
    status = UnicodeAttribute(null=True)  # None: recorded before delivery was tracked (sent at once)
    due_shard = UnicodeAttribute(null=True)
    send_due_at = UTCDateTimeAttribute(null=True)
    sent_at = UTCDateTimeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    last_error = UnicodeAttribute(null=True)
    contact_id = UnicodeAttribute(null=True)  # the recipient (None: the account's own contact; issue 18)

    by_app = NotificationsByAppIndex()
    send_due = SendDueIndex()


# ---------------------------------------------------------------- packages (renewal management, issue 18)
class PackagesByExpiryIndex(GlobalSecondaryIndex["PackageModel"]):
    """An account's packages by expiry (GET /v1/accounts/{id}/packages): sparse, a reclaimed app's
    packages leave it."""

    class Meta:
        index_name = "by_expiry"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    expiry_key = UnicodeAttribute(range_key=True)


class PackageModel(_Base):
    """One prepaid package of an app (its base package, or a plugin/add-on line it has had), written
    from the app item in the app's own transactions (services.apps.store_app): a read model of it."""

    class Meta(_Base.Meta):
        base_name = "packages"

    sdkappid = NumberAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True)  # "base" | the plugin's or add-on's product
    account_id = UnicodeAttribute()
    expiry_key = UnicodeAttribute(null=True)  # <expires_at ISO>#<sdkappid>#<slot>; None: reclaimed
    product = UnicodeAttribute()
    tier = UnicodeAttribute(null=True)
    quantity = NumberAttribute(default=1)
    app_name = UnicodeAttribute()
    region = UnicodeAttribute()
    expires_at = UTCDateTimeAttribute()
    renewal = UnicodeAttribute()  # auto | manual | none
    in_service = BooleanAttribute(default=True)  # the app is enabled

    by_expiry = PackagesByExpiryIndex()


# ---------------------------------------------------------------- renewal batches (issue 18)
class OpenBatchesIndex(GlobalSecondaryIndex["RenewalBatchModel"]):
    """Sparse: batches paid for (reserved) whose items are not all applied yet."""

    class Meta:
        index_name = "open_batches"
        projection = AllProjection()

    open_shard = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class RenewalBatchModel(_Base):
    """A batch renewal: its planned items (JSON) and which are applied (docs/data-model.md)."""

    class Meta(_Base.Meta):
        base_name = "renewals"

    account_id = UnicodeAttribute(hash_key=True)
    renewal_id = UnicodeAttribute(range_key=True)
    created_at = UTCDateTimeAttribute()
    items = UnicodeAttribute()  # JSON list of the planned items (services.renewals.Planned)
    applied = UnicodeAttribute()  # one character per item: "." pending, "a" applied, "v" void (released)
    held_cash = NumberAttribute()  # what the batch still holds on the account
    held_gift = NumberAttribute()
    open_shard = UnicodeAttribute(null=True)  # sparse: set while an item is pending
    version = NumberAttribute(default=0)

    open_batches = OpenBatchesIndex()


# ---------------------------------------------------------------- events (the outbox of every change)
class EventsByAccountIndex(GlobalSecondaryIndex["EventModel"]):
    """An account's events, newest first (ScanIndexForward=False on the time-ordered event_id)."""

    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)


class EventsByDayIndex(GlobalSecondaryIndex["EventModel"]):
    """Every event by its UTC day: the global feed, newest first, day by day."""

    class Meta:
        index_name = "by_day"
        projection = AllProjection()

    day = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)


class EventsByActorIndex(GlobalSecondaryIndex["EventModel"]):
    """Sparse: only events caused by API calls (`actor_key` = the caller's sub): the audit log."""

    class Meta:
        index_name = "by_actor"
        projection = AllProjection()

    actor_key = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)


def event_id_floor(at: datetime) -> str:
    """The instant (service clock), then the wall clock's ns: ids of the changes committed from now on
    sort after it, also at one instant of the test clock."""
    return f"ev{at.astimezone(UTC):%Y%m%d%H%M%S%f}{time.time_ns():019d}"


class EventModel(_Base):
    """One committed change, written in the change's own transaction (store/port.py commit)."""

    class Meta(_Base.Meta):
        base_name = "events"
        stream_view_type = "NEW_IMAGE"  # feeds the webhook deliveries and EventBridge (services/events.py)

    event_id = UnicodeAttribute(hash_key=True)  # ev<yyyymmddHHMMSSffffff><wall ns><rand>: sorts by time
    type = UnicodeAttribute()
    occurred_at = UTCDateTimeAttribute()
    day = UnicodeAttribute()  # YYYY-MM-DD (UTC) of occurred_at
    account_id = UnicodeAttribute(null=True)
    sdkappid = NumberAttribute(null=True)
    actor_role = UnicodeAttribute()  # customer | operator | service | system
    actor_sub = UnicodeAttribute()
    actor_key = UnicodeAttribute(null=True)  # set only for API calls (by_actor index)
    request_id = UnicodeAttribute(null=True)
    data = UnicodeAttribute()  # the resource as the API answers it after the change (JSON text)

    by_account = EventsByAccountIndex()
    by_day = EventsByDayIndex()
    by_actor = EventsByActorIndex()

    @classmethod
    def of(cls, event: Any) -> EventModel:
        """The item of a unit of work's Event (store/port.py), with a new time-ordered id."""
        at = event.at.astimezone(UTC)
        role, sub = event.actor
        return cls(
            f"{event_id_floor(at)}{secrets.token_hex(3)}",
            type=event.type, occurred_at=at, day=f"{at:%Y-%m-%d}", account_id=event.account_id,
            sdkappid=event.sdkappid, actor_role=role, actor_sub=sub,
            actor_key=sub if event.request_id is not None and role != "system" else None,
            request_id=event.request_id, data=json.dumps(event.data or {}, sort_keys=True, separators=(",", ":")),
        )


# ---------------------------------------------------------------- webhooks and their deliveries
class WebhooksByAccountIndex(GlobalSecondaryIndex["WebhookModel"]):
    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)  # the account id, or OPS_OWNER for the operator-wide feed
    webhook_id = UnicodeAttribute(range_key=True)


OPS_OWNER = "*"  # owner of the operator-wide webhooks (every account's events)


class WebhookModel(_Base):
    class Meta(_Base.Meta):
        base_name = "webhooks"

    webhook_id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    url = UnicodeAttribute()
    events: ListAttribute[str] = ListAttribute()  # ["*"] or event types
    status = UnicodeAttribute(default="enabled")  # enabled | disabled | deleted
    secret = UnicodeAttribute()
    previous_secret = UnicodeAttribute(null=True)  # signs beside `secret` until previous_until
    previous_until = UTCDateTimeAttribute(null=True)
    failing_since = UTCDateTimeAttribute(null=True)  # first failed attempt since the last delivered one
    since = UnicodeAttribute(null=True)  # event ids after this one are delivered (not those before it existed)
    created_at = UTCDateTimeAttribute()
    version = NumberAttribute(default=0)

    by_account = WebhooksByAccountIndex()


class DeliveryDueIndex(GlobalSecondaryIndex["DeliveryModel"]):
    """Sparse: deliveries not yet delivered nor failed, by the time of their next attempt."""

    class Meta:
        index_name = "attempt_due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    next_attempt_at = UTCDateTimeAttribute(range_key=True)


class DeliveryModel(_Base):
    class Meta(_Base.Meta):
        base_name = "deliveries"

    webhook_id = UnicodeAttribute(hash_key=True)
    delivery_id = UnicodeAttribute(range_key=True)  # = the event id: one delivery of an event per endpoint
    event_type = UnicodeAttribute()
    body = UnicodeAttribute()  # the Event as sent (JSON text), the same bytes on every attempt
    status = UnicodeAttribute(default="pending")  # pending | delivered | failed
    attempts = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    due_shard = UnicodeAttribute(null=True)
    next_attempt_at = UTCDateTimeAttribute(null=True)
    last_attempt_at = UTCDateTimeAttribute(null=True)
    last_status = NumberAttribute(null=True)
    last_response = UnicodeAttribute(null=True)  # at most 1 KB of the receiver's answer
    last_error = UnicodeAttribute(null=True)
    delivered_at = UTCDateTimeAttribute(null=True)

    attempt_due = DeliveryDueIndex()


# this module's tables; chalicelib.store.dynamodb.tables.ALL_MODELS adds usage, bills and the read views
MODELS: list[type[_Base]] = [
    AccountModel,
    AppModel,
    OrderModel,
    VoucherModel,
    LedgerModel,
    IdempotencyModel,
    MetaModel,
    NotificationModel,
    PackageModel,
    RenewalBatchModel,
    EventModel,
    WebhookModel,
    DeliveryModel,
]
