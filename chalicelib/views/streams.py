"""The stream handler: DynamoDB Streams records of accounts, ledger and notifications -> view items.

Every record is applied idempotently, so a record delivered twice (Lambda retries a batch, the
local poller restarts from the stream's horizon) counts once:

* a ledger entry is insert-only; its revenue is ADDed to a month counter in one transaction with a
  guard item keyed by the entry (``seen#<account>`` / ``<seq>``, ``attribute_not_exists``): a
  second delivery fails the guard and adds nothing. Counters are sharded by the entry's key, so a
  busy month is VIEW_SHARDS items, not one.
* accounts and notifications are re-read (strongly consistent) and their list items put or
  deleted to match the item as it is *now*: puts and deletes are idempotent, and an old record
  arriving late cannot bring back an old state.

The same :func:`apply_records` runs in Lambda (app.py, ``on_dynamodb_record``), under the local
poller (chalicelib/views/poller.py) and in the tests, on the records' plain dict shape."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.domain.calendar import month_key
from chalicelib.store import tables
from chalicelib.store.models import AccountModel, LedgerModel, NotificationModel
from chalicelib.views.model import ViewModel, shard_of

log = logging.getLogger("imbill.views")

ACCOUNT_STATUSES = ("active", "arrears")
LISTED_NOTIFICATIONS = ("pending", "failed")
GUARD_KEEP = timedelta(days=2)  # streams keep records 24 h: a guard older than that guards nothing
# ledger kind -> (revenue counter, sign that makes the counter positive)
REVENUE = {"purchase": ("prepaid_sales", -1), "refund": ("refunds", 1), "credit": ("credits", 1),
           "bill": ("postpaid_bills", -1)}


def stream_tables() -> list[Any]:
    """The models whose Meta sets stream_view_type: the tables that feed the views."""
    return [m for m in tables.ALL_MODELS if getattr(m.Meta, "stream_view_type", None)]


def wire_streams(app: Any, handler: Callable[[Any], Any], environ: Mapping[str, str]) -> list[str]:
    """Register `handler` (Chalice on_dynamodb_record) on each stream whose ARN the deployment
    gives in IMBILL_STREAM_ARN_<TABLE> (the tables stack's <Table>StreamArn output); answer the names."""
    names = []
    for model in stream_tables():
        base = model.Meta.base_name
        arn = environ.get(f"IMBILL_STREAM_ARN_{base.upper().replace('-', '_')}")
        if arn:
            name = f"views_from_{base.replace('-', '_')}"
            app.on_dynamodb_record(stream_arn=arn, batch_size=100, starting_position="TRIM_HORIZON", name=name)(handler)
            names.append(name)
    return names


def table_of(record: dict[str, Any]) -> str:
    """Base table name from the record's source ARN (arn:...:table/<prefix><base>/stream/<label>)."""
    name = record["eventSourceARN"].split(":table/", 1)[1].split("/", 1)[0]
    for base in ("notifications", "accounts", "ledger", "events"):
        if name.endswith(base):
            return base
    return name


def _image(record: dict[str, Any], which: str) -> dict[str, Any] | None:
    image = record.get("dynamodb", {}).get(which)
    return image or None


def _str(image: dict[str, Any] | None, attr: str) -> str | None:
    if image is None or attr not in image:
        return None
    value = image[attr]
    return value.get("S") if isinstance(value, dict) else None


def apply_records(records: Iterable[dict[str, Any]], tz: ZoneInfo) -> dict[str, int]:
    """Apply a batch of stream records to the views; answer counts by table (for logs and tests)."""
    counts: dict[str, int] = {}
    fed: list[dict[str, Any]] = []
    for record in records:
        table = table_of(record)
        if table == "events":
            fed.append(record)
        elif table == "ledger":
            _ledger(record, tz)
        elif table == "accounts":
            _account(record)
        elif table == "notifications":
            _notification(record)
        else:
            continue
        counts[table] = counts.get(table, 0) + 1
    if fed:  # the events' own stream: webhook deliveries and EventBridge (services/event_feed.py)
        from chalicelib.services import event_feed

        event_feed.on_records(fed)
        counts["events"] = len(fed)
    return counts


# ---------------------------------------------------------------- revenue
def revenue_key(month: str, shard: int) -> tuple[str, str]:
    return f"revenue#{shard}", month


def _ledger(record: dict[str, Any], tz: ZoneInfo) -> None:
    image = _image(record, "NewImage")
    if record.get("eventName") != "INSERT" or image is None:
        return  # entries are never changed; a removal (none today) keeps the revenue booked
    entry = LedgerModel.from_raw_data(image)
    if entry.kind not in REVENUE:
        return
    counter, sign = REVENUE[entry.kind]
    amount = sign * (int(entry.cash) + int(entry.gift))
    month = month_key(entry.at, tz)
    created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    seen_at = datetime.fromtimestamp(float(created), UTC) if created else entry.at
    guard = ViewModel(f"seen#{entry.account_id}", f"{int(entry.seq):012d}", expires=seen_at + GUARD_KEEP)
    pk, sk = revenue_key(month, shard_of(f"{entry.account_id}#{int(entry.seq)}"))
    try:
        with TransactWrite(connection=ViewModel._get_connection().connection) as tx:
            tx.save(guard, condition=ViewModel.pk.does_not_exist())
            tx.update(ViewModel(pk, sk), actions=[getattr(ViewModel, counter).add(amount)])
    except TransactWriteError as err:
        reasons = [r.code for r in (err.cancellation_reasons or []) if r is not None]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return  # this entry was counted already
        raise


# ---------------------------------------------------------------- accounts
def account_status_key(status: str, account_id: str) -> tuple[str, str]:
    return f"accounts#status#{status}", account_id


def account_id_key(account_id: str) -> tuple[str, str]:
    return f"accounts#id#{account_id[:1]}", account_id


def account_email_key(email: str, account_id: str) -> tuple[str, str]:
    low = email.lower()
    return f"accounts#email#{low[:1]}", f"{low}#{account_id}"


def _account(record: dict[str, Any]) -> None:
    old, new = _image(record, "OldImage"), _image(record, "NewImage")
    if old is not None and new is not None and _str(old, "status") == _str(new, "status") \
            and _str(old, "email") == _str(new, "email"):
        return  # a balance move: nothing a view lists changed
    account_id = _str(new or old, "account_id")
    if account_id is None:
        return
    try:
        live: AccountModel | None = AccountModel.get(account_id, consistent_read=True)
    except AccountModel.DoesNotExist:
        live = None
    with ViewModel.batch_write() as batch:
        for status in ACCOUNT_STATUSES:
            item = ViewModel(*account_status_key(status, account_id), account_id=account_id)
            if live is not None and live.status == status:
                batch.save(item)
            else:
                batch.delete(item)
        for email in {e for e in (_str(old, "email"), _str(new, "email")) if e}:
            if live is None or live.email != email:
                batch.delete(ViewModel(*account_email_key(email, account_id)))
        if live is not None:
            batch.save(ViewModel(*account_id_key(account_id), account_id=account_id))
            batch.save(ViewModel(*account_email_key(live.email, account_id), account_id=account_id))
        else:
            batch.delete(ViewModel(*account_id_key(account_id)))


# ---------------------------------------------------------------- notifications
def notification_list(status: str, shard: int) -> str:
    return f"notifications#{status}#{shard}"


def notification_key(status: str, account_id: str, notification_id: str) -> tuple[str, str]:
    return notification_list(status, shard_of(account_id)), f"{notification_id}#{account_id}"


def _notification(record: dict[str, Any]) -> None:
    old, new = _image(record, "OldImage"), _image(record, "NewImage")
    if old is not None and new is not None and _str(old, "status") == _str(new, "status"):
        return
    image = new or old
    account_id, notification_id = _str(image, "account_id"), _str(image, "notification_id")
    if account_id is None or notification_id is None:
        return
    try:
        status: str | None = NotificationModel.get(account_id, notification_id, consistent_read=True).status
    except NotificationModel.DoesNotExist:
        status = None
    with ViewModel.batch_write() as batch:
        for listed in LISTED_NOTIFICATIONS:
            item = ViewModel(*notification_key(listed, account_id, notification_id),
                             account_id=account_id, ref=notification_id)
            if status == listed:
                batch.save(item)
            else:
                batch.delete(item)
