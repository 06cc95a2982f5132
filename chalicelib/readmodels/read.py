"""Reading the views: every answer is Queries on known partitions (never a Scan), then BatchGets of
the live items the view points at (a view item lists *which*; the table says *what*, now)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from chalicelib import shapes
from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.money import fmt
from chalicelib.readmodels.streams import (
    ACCOUNT_STATUSES,
    LISTED_NOTIFICATIONS,
    account_email_key,
    account_id_key,
    account_status_key,
    notification_list,
    revenue_key,
)
from chalicelib.store.dynamodb.models import AccountModel, NotificationModel
from chalicelib.store.dynamodb.view_model import VIEW_SHARDS, ViewModel

COUNTERS = ("prepaid_sales", "refunds", "credits", "postpaid_bills")


# ---------------------------------------------------------------- revenue
def month_range(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def revenue(first: str, last: str) -> list[dict[str, str]]:
    """One Query per counter shard over the month range; months without entries answer zeros."""
    sums = {month: dict.fromkeys(COUNTERS, 0) for month in month_range(first, last)}
    for shard in range(VIEW_SHARDS):
        pk, _ = revenue_key(first, shard)
        for item in ViewModel.query(pk, ViewModel.sk.between(first, last)):
            for c in COUNTERS:
                sums[item.sk][c] += int(getattr(item, c) or 0)
    out = []
    for month, s in sums.items():
        net = s["prepaid_sales"] + s["postpaid_bills"] - s["refunds"] - s["credits"]
        out.append({"month": month, **{c: fmt(v) for c, v in s.items()}, "net": fmt(net)})
    return out


# ---------------------------------------------------------------- accounts
def _encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode()


def _decode(token: str | None) -> dict[str, Any]:
    if not token:
        return {"i": 0, "k": None}
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        int(state["i"])
    except (ValueError, TypeError, KeyError):
        raise InvalidRequest("next_token is not valid") from None
    if not isinstance(state.get("k"), dict | None):
        raise InvalidRequest("next_token is not valid")
    return state


def _sources(status: str | None, q: str | None) -> list[tuple[str, Any, Callable[[str], bool]]]:
    """The partitions (and sort-key condition) an accounts listing walks, in order, each with the
    accounts it leaves out because an earlier partition lists them (on any page)."""
    if q:
        low = q.lower()
        by_id = (account_id_key(q)[0], ViewModel.sk.startswith(q), lambda _account_id: False)
        by_email = (account_email_key(low, "")[0], ViewModel.sk.startswith(low),
                    lambda account_id: account_id.startswith(q))  # listed by id already
        return [by_id, by_email]
    statuses = [status] if status else list(ACCOUNT_STATUSES)
    return [(account_status_key(s, "")[0], None, lambda _account_id: False) for s in statuses]


def accounts(status: str | None, q: str | None, limit: int, token: str | None) -> dict[str, Any]:
    """A page of accounts by status and/or id or e-mail prefix. With both, the prefix partitions
    are walked and the live status filters (a status change in flight may make a page short)."""
    if status is not None and status not in ACCOUNT_STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(ACCOUNT_STATUSES)}")
    if q is not None and not 1 <= len(q) <= 200:
        raise InvalidRequest("q must be 1 to 200 characters")
    sources = _sources(status, q)
    state = _decode(token)
    index, lek = int(state["i"]), state["k"]
    ids: list[str] = []
    while index < len(sources) and len(ids) < limit:
        pk, cond, listed_before = sources[index]
        result = ViewModel.query(pk, cond, limit=limit - len(ids), last_evaluated_key=lek)
        ids += [item.account_id for item in result if item.account_id not in ids and not listed_before(item.account_id)]
        lek = result.last_evaluated_key
        if lek is None:
            index, lek = index + 1, None
    live = {a.account_id: a for a in AccountModel.batch_get(ids)} if ids else {}
    items = [shapes.account(live[i]) for i in ids
             if i in live and (status is None or live[i].status == status)]
    more = index < len(sources)
    return {"items": items, "next_token": _encode({"i": index, "k": lek}) if more else None}


# ---------------------------------------------------------------- notifications
def listed_notifications(status: str, limit: int) -> list[dict[str, Any]]:
    """Pending or failed notifications, oldest first: a Query per shard, merged, then the live items."""
    if status not in LISTED_NOTIFICATIONS:
        raise InvalidRequest(f"status must be one of {', '.join(LISTED_NOTIFICATIONS)}")
    refs: list[tuple[str, str]] = []
    for shard in range(VIEW_SHARDS):
        refs += [(i.sk, i.account_id) for i in ViewModel.query(notification_list(status, shard), limit=limit)]
    refs.sort()
    keys = [(account_id, sk.rsplit("#", 1)[0]) for sk, account_id in refs[:limit]]
    live = {(n.account_id, n.notification_id): n for n in NotificationModel.batch_get(keys)} if keys else {}
    out = []
    for key in keys:
        n = live.get(key)
        if n is None or n.status != status:
            continue  # changed since the view was written; the stream will drop it
        out.append(shapes.ops_notification(n))
    return out
