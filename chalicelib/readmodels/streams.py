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
poller (chalicelib/local/poller.py) and in the tests, on the records' plain dict shape."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.domain.calendar import month_key
from chalicelib.store.dynamodb import tables
from chalicelib.store.dynamodb.models import AccountModel, LedgerModel, NotificationModel
from chalicelib.store.dynamodb.view_model import ViewModel, shard_of

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


def apply_records(records: Iterable[dict[str, Any]], tz: ZoneInfo,
                  on_events: Callable[[list[dict[str, Any]]], object] | None = None) -> dict[str, int]:
    """Apply a batch of stream records to the views; answer counts by table (for logs and tests).
    The events table's records go to `on_events` (services/event_feed.py's stream handler passes its
    feed: webhook deliveries and EventBridge); without it they are counted only.
    The batch's requests are batched per table: the revenue of all its ledger entries in one
    transaction (per 100 items), the live accounts and notifications read in one BatchGetItem each
    (per 100 keys) and their list items written in BatchWriteItem calls (25 a request)."""
    counts: dict[str, int] = {}
    by_table: dict[str, list[dict[str, Any]]] = {"ledger": [], "accounts": [], "notifications": [], "events": []}
    for record in records:
        table = table_of(record)
        if table not in by_table:
            continue
        by_table[table].append(record)
        counts[table] = counts.get(table, 0) + 1
    _ledger(by_table["ledger"], tz)
    _accounts(by_table["accounts"])
    _notifications(by_table["notifications"])
    if by_table["events"] and on_events is not None:
        on_events(by_table["events"])
    return counts


def _write_views(writes: dict[tuple[str, str], ViewModel | None]) -> None:
    """Put (a ViewModel) or delete (None) each view key once, in BatchWriteItem calls of 25."""
    if not writes:
        return
    with ViewModel.batch_write() as batch:
        for (pk, sk), item in writes.items():
            if item is None:
                batch.delete(ViewModel(pk, sk))
            else:
                batch.save(item)


# ---------------------------------------------------------------- revenue
def revenue_key(month: str, shard: int) -> tuple[str, str]:
    return f"revenue#{shard}", month


def _revenue(record: dict[str, Any], tz: ZoneInfo) -> tuple[ViewModel, tuple[str, str], str, int] | None:
    """A ledger record's guard item, revenue counter key, counter and amount (None: no revenue)."""
    image = _image(record, "NewImage")
    if record.get("eventName") != "INSERT" or image is None:
        return None  # entries are never changed; a removal (none today) keeps the revenue booked
    entry = LedgerModel.from_raw_data(image)
    if entry.kind not in REVENUE:
        return None
    counter, sign = REVENUE[entry.kind]
    amount = sign * (int(entry.cash) + int(entry.gift))
    month = month_key(entry.at, tz)
    created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    seen_at = datetime.fromtimestamp(float(created), UTC) if created else entry.at
    guard = ViewModel(f"seen#{entry.account_id}", f"{int(entry.seq):012d}", expires=seen_at + GUARD_KEEP)
    return guard, revenue_key(month, shard_of(f"{entry.account_id}#{int(entry.seq)}")), counter, amount


TX_ITEMS = 100  # DynamoDB's limit of items in one TransactWriteItems


def _ledger(records: list[dict[str, Any]], tz: ZoneInfo) -> None:
    """The batch's revenue: one guard item per entry (`attribute_not_exists`) and one ADD per
    revenue counter the entries add to, in one transaction (per 100 items). A guard that exists (a
    redelivered entry) cancels it: those entries are dropped and the rest committed again."""
    entries: dict[tuple[str, str], tuple[ViewModel, tuple[str, str], str, int]] = {}
    for record in records:
        found = _revenue(record, tz)
        if found is not None:
            entries.setdefault((found[0].pk, found[0].sk), found)  # a record twice in one batch: once
    todo = list(entries.values())
    while todo:
        chunk: list[tuple[ViewModel, tuple[str, str], str, int]] = []
        counters: set[tuple[str, str]] = set()
        for entry in todo:
            if len(chunk) + 1 + len(counters | {entry[1]}) > TX_ITEMS:
                break
            chunk.append(entry)
            counters.add(entry[1])
        todo = todo[len(chunk):]
        _add_revenue(chunk)


def _add_revenue(chunk: list[tuple[ViewModel, tuple[str, str], str, int]]) -> None:
    while chunk:
        sums: dict[tuple[tuple[str, str], str], int] = {}
        for _, key, counter, amount in chunk:
            sums[key, counter] = sums.get((key, counter), 0) + amount
        adds: dict[tuple[str, str], list[Any]] = {}
        for (key, counter), amount in sums.items():
            adds.setdefault(key, []).append(getattr(ViewModel, counter).add(amount))
        try:
            with TransactWrite(connection=ViewModel._get_connection().connection) as tx:
                for guard, *_ in chunk:  # puts first, in this order: the cancellation reasons follow it
                    tx.save(guard, condition=ViewModel.pk.does_not_exist())
                for (pk, sk), actions in adds.items():
                    tx.update(ViewModel(pk, sk), actions=actions)
            return
        except TransactWriteError as err:
            reasons = [r.code if r is not None else None for r in (err.cancellation_reasons or [])]
            counted = {i for i, code in enumerate(reasons[:len(chunk)]) if code == "ConditionalCheckFailed"}
            if not counted:
                raise
            chunk = [entry for i, entry in enumerate(chunk) if i not in counted]  # counted already


# ---------------------------------------------------------------- accounts
def account_status_key(status: str, account_id: str) -> tuple[str, str]:
    return f"accounts#status#{status}", account_id


def account_id_key(account_id: str) -> tuple[str, str]:
    return f"accounts#id#{account_id[:1]}", account_id


def account_email_key(email: str, account_id: str) -> tuple[str, str]:
    low = email.lower()
    return f"accounts#email#{low[:1]}", f"{low}#{account_id}"


def _accounts(records: list[dict[str, Any]]) -> None:
    """Each account whose status or e-mail a record changed (or that came or went): its list items
    put or deleted to match the account as it is now (read once for the batch)."""
    emails: dict[str, set[str]] = {}
    for record in records:
        old, new = _image(record, "OldImage"), _image(record, "NewImage")
        if old is not None and new is not None and _str(old, "status") == _str(new, "status") \
                and _str(old, "email") == _str(new, "email"):
            continue  # a balance move: nothing a view lists changed
        account_id = _str(new or old, "account_id")
        if account_id is not None:
            emails.setdefault(account_id, set()).update(e for e in (_str(old, "email"), _str(new, "email")) if e)
    if not emails:
        return
    live = {a.account_id: a for a in AccountModel.batch_get(sorted(emails), consistent_read=True)}
    writes: dict[tuple[str, str], ViewModel | None] = {}
    for account_id, seen in emails.items():
        acct = live.get(account_id)
        for status in ACCOUNT_STATUSES:
            key = account_status_key(status, account_id)
            writes[key] = ViewModel(*key, account_id=account_id) if acct is not None and acct.status == status else None
        for email in seen:
            if acct is None or acct.email != email:
                writes[account_email_key(email, account_id)] = None
        if acct is not None:
            writes[account_id_key(account_id)] = ViewModel(*account_id_key(account_id), account_id=account_id)
            key = account_email_key(acct.email, account_id)
            writes[key] = ViewModel(*key, account_id=account_id)
        else:
            writes[account_id_key(account_id)] = None
    _write_views(writes)


# ---------------------------------------------------------------- notifications
def notification_list(status: str, shard: int) -> str:
    return f"notifications#{status}#{shard}"


def notification_key(status: str, account_id: str, notification_id: str) -> tuple[str, str]:
    return notification_list(status, shard_of(account_id)), f"{notification_id}#{account_id}"


def _notifications(records: list[dict[str, Any]]) -> None:
    """Each notification whose status a record changed: its list items put or deleted to match the
    notification as it is now (read once for the batch). A notification inserted with a status no
    list shows (`sent` in its commit) needs nothing: no list item of a new item exists."""
    keys: set[tuple[str, str]] = set()
    for record in records:
        old, new = _image(record, "OldImage"), _image(record, "NewImage")
        if old is not None and new is not None and _str(old, "status") == _str(new, "status"):
            continue
        if old is None and new is not None and _str(new, "status") not in LISTED_NOTIFICATIONS:
            continue
        image = new or old
        account_id, notification_id = _str(image, "account_id"), _str(image, "notification_id")
        if account_id is not None and notification_id is not None:
            keys.add((account_id, notification_id))
    if not keys:
        return
    live = {(n.account_id, n.notification_id): n.status
            for n in NotificationModel.batch_get(sorted(keys), consistent_read=True)}
    writes: dict[tuple[str, str], ViewModel | None] = {}
    for account_id, notification_id in keys:
        status = live.get((account_id, notification_id))
        for listed in LISTED_NOTIFICATIONS:
            key = notification_key(listed, account_id, notification_id)
            writes[key] = (ViewModel(*key, account_id=account_id, ref=notification_id) if status == listed
                           else None)
    _write_views(writes)
