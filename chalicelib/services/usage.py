"""Usage metering (billing-rules section 6): logins (exact MAU), push calls and messages, search.

Storage, through the unit of work's `usage`, `users` and `periods` repositories (the DynamoDB shape:
chalicelib/store/dynamodb/usage_models.py and store/dynamodb/adapter.py, docs/data-model.md "Usage metering"):

- one UserSeenModel item per (app, local month, user), key ``"<sdkappid>#<month>"`` / user id;
- one UsageModel month item per (app, local month) holding ``mau`` and the month counters, and
  carrying ``account_id``, ``month_shard`` and ``account_app`` so that the settlement index
  (``by_month``) lists every app with usage in a month. Every write of a month item sets them again
  (an idempotent SET), whichever counter it moves;
- one UsageModel day item per (app, local day) holding the accepted broadcast/tag push calls.

A billed period is closed (billing-rules section 6): a report of a period that has ended by the
service clock (a late report) is refused with 409 `period_closed` once the job that bills it has
closed it (``billing.close_period``: a month by the settlement, a day's push calls by the daily push
bill), and its write carries a ConditionCheck that the period is still open, so it either commits
before the job reads the usage or is refused. Reports of the current period never touch the close
markers (no hot item on the normal path).

Every item expires (DynamoDB TTL) 400 days after the end of its month.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.bills import meter_key, settlement_open
from chalicelib.domain.calendar import is_period, iso, local_date, month_bounds, month_key
from chalicelib.domain.errors import Conflict, InvalidRequest
from chalicelib.domain.usage import quota_in_force
from chalicelib.services import billing
from chalicelib.services.apps import ensure_in_service, load_app
from chalicelib.services.billing import quota_log, quota_until
from chalicelib.services.context import Ctx
from chalicelib.store.port import Counts, UnitOfWork, WriteConflict, backoff, with_retries

USERS_PER_TRANSACTION = 99  # + the month item = the 100 items a TransactWriteItems may hold
MAX_LOST_TRANSACTIONS = 60  # per report, then the error goes to the caller (a report may be sent again)
KEEP_AFTER_MONTH = timedelta(days=400)  # TTL of usage and user items, counted from the end of their month
NAMED = ("push.messages", "search.stored_messages", "search.requests")  # meters with fields of their own in GET

Closure = tuple[str, str]  # (close marker, period) a late report must find open


# ------------------------------------------------------------------ small helpers
def _expires(month: str, tz: ZoneInfo) -> datetime:
    return month_bounds(month, tz)[1] + KEEP_AFTER_MONTH


def _instant(ctx: Ctx, at: datetime | None) -> datetime:
    """The report's instant: the service clock by default, never in the future."""
    if at is None:
        return ctx.now
    if at > ctx.now:
        raise InvalidRequest(f"at ({iso(at)}) lies in the future (now is {iso(ctx.now)})")
    return at


def _in_service(ctx: Ctx, sdkappid: int) -> Any:
    return ensure_in_service(load_app(ctx, sdkappid), "it may not log users in or push")


# ------------------------------------------------------------------ closed periods
def _closures(ctx: Ctx, month: str | None = None, day: str | None = None) -> list[Closure]:
    """The close markers a report must find open: those of its periods that have ended by the
    service clock (only a late report can race the job that bills its period)."""
    out = []
    if month is not None and month < month_key(ctx.now, ctx.tz):
        out.append((billing.CLOSED_MONTH, month))
    if day is not None and day < local_date(ctx.now, ctx.tz).isoformat():
        out.append((billing.CLOSED_PUSH_DAY, day))
    return out


def _refuse_if_closed(u: UnitOfWork, closures: list[Closure]) -> None:
    """409 `period_closed` when one of the report's periods is billed already (strong reads)."""
    for marker, period in closures:
        closed = u.periods.closed_through(marker)
        if closed is not None and closed >= period:
            what = "push calls of" if marker == billing.CLOSED_PUSH_DAY else "usage of"
            raise Conflict(f"{what} {period} is refused: that period is closed, its billing has run "
                           f"(everything through {closed} is billed)", code="period_closed")


@contextmanager
def _refused_if_closed(u: UnitOfWork, closures: list[Closure]) -> Iterator[None]:
    """A failed commit of a late report: 409 `period_closed` if the period was closed meanwhile,
    else the conflict goes on (to be retried)."""
    try:
        yield
    except WriteConflict:
        _refuse_if_closed(u, closures)
        raise


def _check_open(u: UnitOfWork, closures: list[Closure]) -> None:
    """In the report's commit: each period still open (these come first among its items)."""
    for marker, period in closures:
        u.periods.check_open(marker, period)


# ------------------------------------------------------------------ logins (MAU)
def report_logins(ctx: Ctx, sdkappid: int, user_ids: Sequence[str], at: datetime | None = None) -> dict[str, Any]:
    """Count the logins of a local month exactly (MAU); on an edition without MAU overage
    (Developer) refuse new users above its free MAU, while users already counted keep logging in.

    Exact and idempotent by construction: a user is counted when, and only when, its UserSeenModel
    item is created, in the same TransactWriteItems as the month item's ``ADD mau :k``:

    1. BatchGetItem (strongly consistent, 100 keys a request; on a capped edition one Query of the
       at most 100 users of the month) finds which of the report's users the month already
       counts; they are accepted and cost no write (a repeated report writes nothing).
    2. The others go in transactions of up to 99 ``Put`` user items, each on condition
       ``attribute_not_exists(user_id)``, plus one ``Update`` of the month item: ``ADD mau :k``
       (k = the users in the transaction) and the settlement index keys. A concurrent report that
       created one of those users first cancels the transaction with ``ConditionalCheckFailed`` on
       that item: the user is counted already (accepted), it is dropped and the rest retried. So
       ``mau`` always equals the number of user items, under any interleaving of reports.
    3. Capped edition: the month item's update is also conditioned on
       ``attribute_not_exists(mau) OR mau <= :cap - :k`` and k is at most the room left
       (cap - mau, read strongly consistent before each transaction), so concurrent reports can
       never pass the cap; new users beyond the room are refused, in the order given. Once the
       month is full, the refused users are looked up once more, so a user that a concurrent
       report counted meanwhile is accepted, not refused.

    Cost, 1,000 new users on Standard: 1 GetItem (app) + 10 BatchGetItem + 11 TransactWriteItems
    + 1 GetItem (the month's mau to answer) = 23 requests; the same report again: 12; 1,000 new
    users on Developer (100 admitted): 9; a late report (a month that has ended) reads the close
    marker once more and checks it in each transaction (98 users each). Unlike
    writing every user and counting the partition after each report, nothing here grows with the
    app's MAU. A user written is 2 WCU (transactional) but only the first time in the month.
    """
    at = _instant(ctx, at)
    users = list(dict.fromkeys(user_ids))  # distinct, in the order given
    if not users:
        raise InvalidRequest("user_ids must not be empty")
    app = _in_service(ctx, sdkappid)
    sdkappid, month = int(app.sdkappid), month_key(at, ctx.tz)
    edition = ctx.catalog.edition(app.edition)
    cap = edition.free_mau if edition.mau_overage_unit_price is None else None
    closures = _closures(ctx, month=month)
    with ctx.uow() as u:
        _refuse_if_closed(u, closures)
        known = u.users.seen(sdkappid, month, users, whole=cap is not None)  # a capped month: one Query
        new = Counts(sdkappid, month, app.account_id, _expires(month, ctx.tz), {})
        rejected = _count_new(u, new, [x for x in users if x not in known], cap, closures)
        return {"month": month, "mau": _mau(u, sdkappid, month), "accepted": len(users) - len(rejected),
                "rejected_user_ids": rejected}


def _count_new(u: UnitOfWork, month: Counts, new: list[str], cap: int | None, closures: list[Closure]) -> list[str]:
    """Record the users of `new` and add them to the month's mau (`month`: the record's identity);
    answer the users refused."""
    sdkappid = month.sdkappid
    pending = list(new)
    lost = 0  # commits cancelled by a concurrent report
    while pending:
        size = USERS_PER_TRANSACTION - len(closures)  # a late report's close marker is one of the 100 items
        if cap is not None:
            room = cap - _mau(u, sdkappid, month.period)
            if room <= 0:  # full: nobody is counted any more, so who is counted now is final
                counted = u.users.seen(sdkappid, month.period, pending, whole=True)
                return [x for x in pending if x not in counted]
            size = min(size, room)
        chunk = pending[:size]
        _check_open(u, closures)
        for user_id in chunk:
            u.users.see(sdkappid, month.period, user_id, month.expires)
        u.usage.count(Counts(sdkappid, month.period, month.account_id, month.expires, {"mau": len(chunk)},
                             within=None if cap is None else ("mau", cap)))
        try:
            u.commit()
        except WriteConflict as err:
            _refuse_if_closed(u, closures)  # the billing job closed the month meanwhile: nothing was written
            lost += 1
            if lost >= MAX_LOST_TRANSACTIONS:
                raise
            counted = u.users.lost(err)
            if counted:  # another report counted them first: accepted, not counted twice
                pending = [x for x in pending if x not in counted]
            else:  # a concurrent transaction on the month item, or the cap moved: decide again
                backoff(lost)
            continue
        pending = pending[len(chunk):]
    return []


def _mau(u: UnitOfWork, sdkappid: int, month: str) -> int:
    item = u.usage.get(sdkappid, month)
    return int(item.mau) if item is not None and item.mau is not None else 0


def mau_of(ctx: Ctx, sdkappid: int, month: str) -> int:
    """The exact MAU of an app in a local month (0 without logins)."""
    with ctx.uow() as u:
        return _mau(u, sdkappid, month)


# ------------------------------------------------------------------ push
def report_push(
    ctx: Ctx, sdkappid: int, broadcast_calls: int, messages: int, at: datetime | None = None
) -> dict[str, Any]:
    """Admit broadcast/tag push API calls up to the day's quota; add push messages to the month.

    The day item's ``push_calls`` is raised by the admitted calls on condition
    ``attribute_not_exists(push_calls) OR push_calls <= :quota - :admitted`` in the same
    TransactWriteItems as ``ADD push_messages`` on the month item; a report that loses to a
    concurrent one is decided again from a fresh read, so the day never admits more than its quota.
    """
    at = _instant(ctx, at)
    if broadcast_calls < 0 or messages < 0:
        raise InvalidRequest("broadcast_calls and messages may not be negative")
    app = _in_service(ctx, sdkappid)
    sdkappid = int(app.sdkappid)
    day = local_date(at, ctx.tz).isoformat()
    month = month_key(at, ctx.tz)
    quota = quota_in_force(quota_log(app), quota_until(ctx, app), at)
    expires = _expires(month, ctx.tz)
    closures = _closures(ctx, month=month if messages or broadcast_calls else None,
                         day=day if broadcast_calls else None)

    def attempt(u: UnitOfWork) -> dict[str, Any]:
        day_item = u.usage.get(sdkappid, day)
        used = int(day_item.push_calls) if day_item is not None else 0
        admitted = max(0, min(broadcast_calls, quota - used))
        add_messages = Counts(sdkappid, month, app.account_id, expires, {"push.messages": messages})
        if admitted or (messages and closures):  # a late report: its periods checked open in the commit
            _check_open(u, closures)
            if admitted:
                u.usage.count(Counts(sdkappid, day, app.account_id, expires, {"push.calls": admitted},
                                     within=("push.calls", quota)))
            u.usage.count(add_messages)
            with _refused_if_closed(u, closures):
                u.commit()
            month_item = u.usage.get(sdkappid, month)
        elif messages:
            month_item = u.usage.count_now(add_messages)
        else:
            month_item = u.usage.get(sdkappid, month)
        return {
            "date": day,
            "quota": quota,
            "accepted_calls": admitted,
            "rejected_calls": broadcast_calls - admitted,
            "messages_month": int(month_item.push_messages) if month_item is not None else 0,
        }

    with ctx.uow() as u:
        _refuse_if_closed(u, closures)
        return with_retries(lambda: attempt(u))


# ------------------------------------------------------------------ monthly meters (search, any plugin's)
def _add_to_month(ctx: Ctx, app: Any, month: str, counts: dict[str, int]) -> Any:
    """Add reported counts of monthly meters (by "<plugin>.<meter>") to the app's month record and
    answer it after the report: at once (one UpdateItem answering ALL_NEW); a late report, in a commit
    with the check that the month is still open (409 `period_closed` otherwise)."""
    sdkappid = int(app.sdkappid)
    closures = _closures(ctx, month=month) if any(counts.values()) else []
    with ctx.uow() as u:
        _refuse_if_closed(u, closures)
        if not any(counts.values()):
            return u.usage.get(sdkappid, month)
        add = Counts(sdkappid, month, app.account_id, _expires(month, ctx.tz), counts)
        if not closures:
            return u.usage.count_now(add)
        _check_open(u, closures)  # a late report: one transaction with the month's close marker
        u.usage.count(add)
        with _refused_if_closed(u, closures):
            u.commit()
        return u.usage.get(sdkappid, month)


def report_search(
    ctx: Ctx, sdkappid: int, stored_messages: int, requests: int, at: datetime | None = None
) -> dict[str, Any]:
    """Add newly stored (indexed) messages and search requests to the local month.

    A meter of what already happened, not an admission: accepted for any app that is not reclaimed,
    unless its month is billed already (409 `period_closed`)."""
    at = _instant(ctx, at)
    if stored_messages < 0 or requests < 0:
        raise InvalidRequest("stored_messages and requests may not be negative")
    app = load_app(ctx, sdkappid, writable=True)
    month = month_key(at, ctx.tz)
    item = _add_to_month(ctx, app, month, {"search.stored_messages": stored_messages, "search.requests": requests})
    counts = item.counters() if item is not None else {}
    return {
        "month": month,
        "stored_messages": counts.get("search.stored_messages", 0),
        "requests": counts.get("search.requests", 0),
    }


def report_meter(ctx: Ctx, sdkappid: int, meter: str, quantity: int, at: datetime | None = None) -> dict[str, Any]:
    """Add units of any monthly usage meter of the catalog ("<plugin>.<meter>", POST /v1/usage/meters)
    to the local month: like search, a meter of what already happened, billed by the monthly settlement."""
    at = _instant(ctx, at)
    if meter not in ctx.catalog.usage_meters:
        raise InvalidRequest(f"{meter!r} is not a monthly usage meter of the catalog "
                             f"({', '.join(ctx.catalog.usage_meters)})")
    if quantity < 0:
        raise InvalidRequest("quantity may not be negative")
    app = load_app(ctx, sdkappid, writable=True)
    month = month_key(at, ctx.tz)
    item = _add_to_month(ctx, app, month, {meter: quantity})
    return {"month": month, "meter": meter, "quantity": item.counters().get(meter, 0) if item is not None else 0}


# ------------------------------------------------------------------ reads
def get_usage(ctx: Ctx, sdkappid: int, month: str | None = None) -> dict[str, Any]:
    """GET /v1/apps/{id}/usage: the month's MAU, push and search counters (one Query)."""
    app = load_app(ctx, sdkappid, consistent=False)
    sdkappid = int(app.sdkappid)
    month = month or month_key(ctx.now, ctx.tz)
    if not is_period(month, day=False):
        raise InvalidRequest(f"month must be YYYY-MM, not {month!r}")
    with ctx.uow() as u:
        items = {i.period: i for i in u.usage.of_month(sdkappid, month)}
        m = items.pop(month, None)
        today = local_date(ctx.now, ctx.tz).isoformat()
        today_item = items.get(today) if today.startswith(month) else u.usage.get(sdkappid, today)
    counts = m.counters() if m is not None else {}
    out: dict[str, Any] = {
        "sdkappid": sdkappid,
        "month": month,
        "mau": int(m.mau) if m is not None and m.mau is not None else 0,
        "push": {
            "messages": int(m.push_messages) if m is not None else 0,
            "broadcast_calls_today": int(today_item.push_calls) if today_item is not None else 0,
            "daily_quota": quota_in_force(quota_log(app), quota_until(ctx, app), ctx.now),
            "broadcast_calls_by_day": {day: int(i.push_calls) for day, i in sorted(items.items())},
        },
        "search": {
            "stored_messages": counts.get("search.stored_messages", 0),
            "requests": counts.get("search.requests", 0),
        },
    }
    others = [meter_key(p, name) for p, name, _ in ctx.catalog.meters("month")]
    others = [key for key in others if key not in NAMED]  # those without fields above
    if others:
        out["meters"] = {key: counts.get(key, 0) for key in others}
    return out


# ------------------------------------------------------------------ reclamation
def delete_for_app(ctx: Ctx, sdkappid: int) -> int:
    """Reclamation hook: the app's usage and user sets go. The month counters of months not settled
    yet are kept as an unbilled record: postpaid usage already incurred is still billed, and the
    settlement deletes the record once billed. Answers the number of items deleted."""
    def unsettled(month: str) -> bool:
        return settlement_open(month, ctx.tz, ctx.catalog.lifecycle("settlement_days"), ctx.now)

    with ctx.uow() as u:
        return u.usage.reclaim(sdkappid, unsettled)
