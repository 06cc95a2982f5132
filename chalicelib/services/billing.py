"""Postpaid bills: post once, charge cash then gift (shortfall = negative cash), arrears (section 6-7)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby, islice
from typing import Any

from chalicelib import shapes
from chalicelib.domain.app import Status, StopReason
from chalicelib.domain.arrears import AccountStatus, Arrears, back_from_arrears, stop_for_arrears
from chalicelib.domain.bills import AppFacts, Line, MonthUsage, monthly_lines, push_day, push_work_day
from chalicelib.domain.calendar import iso, local_midnight, month_bounds, parse_instant
from chalicelib.domain.errors import NotFound
from chalicelib.domain.money import fmt
from chalicelib.domain.notices import notice, render
from chalicelib.domain.orders import split_postpaid
from chalicelib.services import events, notifications
from chalicelib.services.apps import put, state, stop_app, store_app
from chalicelib.services.context import Ctx
from chalicelib.services.ledger import Move, book
from chalicelib.store.dynamodb.models import AccountModel, AppModel, MetaModel
from chalicelib.store.dynamodb.usage_models import BillLineMap, BillModel
from chalicelib.store.port import Page, UnitOfWork, WriteConflict


def list_bills(ctx: Ctx, account_id: str, period: str | None, limit: int, token: str | None,
               start: datetime | None = None, end: datetime | None = None) -> Page[BillModel]:
    """One page of the account's bills: of `period` exactly when given, else those posted at
    [start, end) (open bounds: all); the API renders them."""
    ctx.principal.check_account(account_id)
    with ctx.uow() as u:
        if period is not None or (start is None and end is None):
            return u.bills.of_period(account_id, period, limit, token)
        return u.bills.page_between(account_id, "posted_at", start, end, limit, token)


def arrears_of(acct: AccountModel) -> Arrears:
    """The account's arrears as the domain sees them."""
    return Arrears(
        status=AccountStatus(acct.status),
        since=acct.arrears_since,
        due_at=acct.arrears_due_at,
        later_dues=tuple(map(parse_instant, acct.arrears_later_dues or [])),
    )


def put_arrears(acct: AccountModel, arrears: Arrears) -> None:
    acct.status = arrears.status.value
    acct.arrears_since = arrears.since
    acct.arrears_due_at = arrears.due_at
    acct.arrears_later_dues = [iso(d) for d in arrears.later_dues] or None


def enter_arrears(ctx: Ctx, acct: AccountModel, bill_key: str) -> list[Any]:
    """A postpaid charge left cash + gift below zero: arrears since now (or still) and a warning by
    email and SMS, with the stop deadline of this bill (domain.arrears)."""
    after, warning = arrears_of(acct).enter(int(acct.cash) + int(acct.gift), ctx.now, ctx.catalog)
    if warning is None:
        return []
    put_arrears(acct, after)
    subject, body = notice(ctx.catalog, "arrears", account_id=acct.account_id, balance=fmt(warning.balance),
                           stops_at=iso(warning.stop_at))
    return notifications.compose(acct, warning.kind, ctx.now, ref=bill_key, subject=subject, body=body)


def bill_notice(ctx: Ctx, acct: AccountModel, bill: BillModel) -> list[Any]:
    """Every posted bill is notified (kind `bill`), by email and SMS, in the bill's transaction."""
    lines = "; ".join(render(ctx.catalog, "bill_line", sdkappid=x.sdkappid, item=x.item, quantity=int(x.quantity),
                             amount=fmt(int(x.amount))) for x in bill.lines)
    subject, body = notice(ctx.catalog, "bill", kind=bill.kind, kind_title=bill.kind.capitalize(), period=bill.period,
                           total=fmt(int(bill.total)), cash=fmt(int(bill.charged_cash)),
                           gift=fmt(int(bill.charged_gift)), lines=lines)
    return notifications.compose(acct, "bill", ctx.now, ref=bill.bill_key, subject=subject, body=body)


def post_bill(ctx: Ctx, account_id: str, kind: str, period: str, lines: list[Line],
              acct: AccountModel | None = None, close: PeriodClose | None = None) -> str:
    """One bill, written only if absent (deterministic key), charged in the same transaction.

    `acct`: the account as the job's page read it (None: read here); `close`: a period close the
    run has not written yet, carried by this transaction. "skipped" when the bill was posted already
    (by an earlier or a concurrent run); when the account moved meanwhile the conflict is raised:
    the job's step runner reloads and decides again."""
    key = f"{period}#{kind}"
    if acct is None:
        with ctx.uow() as reads:
            acct = reads.accounts.get(account_id)
    if acct is None:
        raise NotFound(f"account {account_id} not found")
    total = sum(line.amount for line in lines)
    take_cash, take_gift = split_postpaid(total, int(acct.cash), int(acct.gift))
    bill = BillModel(
        account_id, key, kind=kind, period=period, total=total, posted_at=ctx.now,
        charged_cash=take_cash, charged_gift=take_gift,
        lines=[BillLineMap(sdkappid=x.sdkappid, item=x.item, quantity=x.quantity, unit_price=x.unit_price,
                           amount=x.amount) for x in lines],
    )
    if kind == "monthly":
        acct.settled_month, acct.settled_outcome = period, "billed"  # written with the bill
    with ctx.uow() as u:
        u.bills.add(bill)  # only if absent: a bill is posted once
        notes = bill_notice(ctx, acct, bill)
        was = acct.status
        book(ctx, u, acct, [Move("bill", -take_cash, -take_gift, ref=f"{kind}:{period}")],
             then=lambda a: notes.extend(enter_arrears(ctx, a, key)))
        notifications.enqueue(ctx, u, notes)
        if acct.status != was:  # the bill took the balance below zero: the account is in arrears now
            events.emit(u, ctx, "account.arrears_started", account_id=account_id,
                        data={"account": shapes.account(acct), "bill": shapes.bill(bill)})
        else:
            events.emit(u, ctx, "bill.posted", account_id=account_id, data=shapes.bill(bill))
        closing = close is not None and close.register(u)
        try:
            u.commit()
        except WriteConflict as err:
            if closing and close is not None:
                close.lost(err)
            if u.bills.get(account_id, key) is not None:
                return "skipped"
            raise
        if closing and close is not None:
            close.done = True
    notifications.dispatch(ctx, notes, ctx.now)
    return "billed"


# ------------------------------------------------------------------ closed periods (billing-rules 6)
CLOSED_MONTH = "usage-closed-month"  # meta item: `value` = the last local month whose settlement ran
CLOSED_PUSH_DAY = "usage-closed-push-day"  # meta item: `value` = the last local day whose push bill ran


def close_period(ctx: Ctx, marker: str, period: str) -> None:
    """Close `period` and every earlier one of its kind (the marker only moves forward), before the
    job reads what it bills: a late report either committed before this write, so the job's reads
    see it, or finds the period closed (409 `period_closed`). Idempotent."""
    with ctx.uow() as u:
        u.periods.close(marker, period)


class PeriodClose:
    """A period close carried by the run's first bill transaction (an `advance` of the marker:
    `attribute_not_exists(value) OR value <= :period`) instead of an UpdateItem of its own; a run
    that posts no bill closes it at its end (`finish`). A marker already beyond the period (a rerun
    of an older day) cancels that transaction once: the close is dropped and the bill decided again."""

    def __init__(self, ctx: Ctx, marker: str, period: str) -> None:
        self.ctx, self.marker, self.period = ctx, marker, period
        self.done = False

    def register(self, u: UnitOfWork) -> bool:
        if self.done:
            return False
        u.periods.advance(self.marker, self.period)
        return True

    def lost(self, err: WriteConflict) -> None:
        if any(isinstance(r, MetaModel) for r in err.failed):
            self.done = True  # closed through a later period already

    def finish(self) -> None:
        if not self.done:
            close_period(self.ctx, self.marker, self.period)
            self.done = True


def close_month(ctx: Ctx, month: str) -> None:
    close_period(ctx, CLOSED_MONTH, month)


def close_push_day(ctx: Ctx, day: Any) -> None:
    close_period(ctx, CLOSED_PUSH_DAY, day.isoformat())


def closed_through(ctx: Ctx, marker: str) -> str | None:
    """The last period a close marker has closed (strongly consistent), None before the first."""
    with ctx.uow() as u:
        return u.periods.closed_through(marker)


def month_usage(u: UnitOfWork, month: str, sdkappids: Iterable[int], listed: list[Any]) -> list[Any]:
    """An account's month records read again (strongly consistent) once the month is closed: the
    by_month index that listed them is eventually consistent, so a report that beat the close could
    still be missing there or its counters stale. Keys: the month record of every app of the
    account and every listed record (a reclaimed app's unbilled record)."""
    return u.usage.many({(sid, month) for sid in sdkappids} | {(int(x.sdkappid), x.period) for x in listed},
                        consistent=True)


# ------------------------------------------------------------------ monthly settlement
class UsagePage:
    """Accounts with usage in a month in one shard of the by_month index (None: every shard; sorted
    by account), with their app records: those after the account `cursor`, at most `limit` of them
    (None: all). Afterwards `cursor` is the last account taken when more may follow (None: done)."""

    def __init__(self, store: Callable[[], UnitOfWork], month: str, shard: int | None, cursor: str | None = None,
                 limit: int | None = None) -> None:
        self.store, self.month, self.shard, self.after, self.limit = store, month, shard, cursor, limit
        self.cursor: str | None = None

    def __iter__(self) -> Iterator[tuple[str, list[Any]]]:
        with self.store() as u:
            taken = 0
            for account_id, group in groupby(u.usage.by_month(self.month, self.shard, self.after),
                                             key=lambda x: x.account_id):
                if self.limit is not None and taken == self.limit:
                    return
                taken += 1
                if self.limit is not None:
                    self.cursor = account_id
                yield account_id, list(group)
        self.cursor = None

    def with_decided(self, decide: bool = True, prefetch: bool = False
                     ) -> Iterator[tuple[str, list[Any], str | None]]:
        """The page's accounts, each with what an earlier run of the month decided for it ("skipped"
        for a posted bill, "no_charge"; None: to settle; always None without `decide`, the window's
        first day), 100 accounts at a time: their accounts read in one BatchGetItem, so a later run
        of the window passes the settled ones for ~0.01 request each. With `prefetch` (the job's
        steps) the accounts to settle come with their reads (`Listed.reads`): the month items of
        every app of the chunk's accounts and those apps, one BatchGetItem per 100 keys each."""
        listed = iter(self)
        while chunk := list(islice(listed, 100)):
            with self.store() as u:
                accounts = {a.account_id: a for a in u.accounts.many([(x,) for x, _ in chunk], consistent=True)}
                decided = {}
                if decide:
                    decided = {x: "skipped" if a.settled_outcome == "billed" else a.settled_outcome
                               for x, a in accounts.items() if a.settled_month == self.month}
                todo = [(x, usage) for x, usage in chunk if x not in decided]
                reads = settlement_reads(u, self.month, todo, accounts) if prefetch and todo else {}
            for account_id, usage in chunk:
                yield account_id, Listed(usage, reads.get(account_id)), decided.get(account_id)


@dataclass
class SettleReads:
    """What the settlement of one account decides on: the account (None: not found), its apps with
    a month item, its month items read again after the close (strongly consistent), and whether its
    app list came from by_account (an account older than `app_ids`: the bill writes the list)."""

    account: AccountModel | None
    apps: dict[int, AppModel]
    usage: list[Any]
    app_ids: set[int] | None = None  # to write on the account (found through by_account)


class Listed(list[Any]):
    """An account's month records as the index listed them, with the page's reads of the account
    (first attempt only: a retried step reads afresh, `fresh`)."""

    def __init__(self, items: list[Any], reads: SettleReads | None = None) -> None:
        super().__init__(items)
        self.reads = reads


def fresh(item: tuple[str, list[Any], str | None]) -> tuple[str, list[Any], str | None]:
    """A settlement item without the page's reads: its retry reads the account again."""
    return item[0], list(item[1]), item[2]


def app_ids_of(acct: AccountModel) -> set[int] | None:
    """The account's apps when its item lists them all (see AccountModel.app_ids), else None."""
    ids = {int(x) for x in acct.app_ids or ()}
    return ids if len(ids) >= int(acct.apps_count) else None


def settlement_reads(u: UnitOfWork, month: str, todo: list[tuple[str, list[Any]]],
                     accounts: dict[str, AccountModel]) -> dict[str, SettleReads]:
    """The reads of a chunk of accounts to settle, batched: every app's month item (+ the listed
    records: a reclaimed app's unbilled one), strongly consistent once the month is closed (the
    by_month index that listed them may lag a report that beat the close, or miss another app of
    the account), then the apps those items belong to."""
    ids: dict[str, set[int]] = {}
    listed_ids: dict[str, set[int]] = {}
    for account_id, listed in todo:
        acct = accounts.get(account_id)
        found = app_ids_of(acct) if acct is not None else None
        if found is None:  # an account older than app_ids: its apps by the index
            found = {int(a.sdkappid) for a in u.apps.each_of_account(account_id)}
            listed_ids[account_id] = found
        ids[account_id] = found | {int(x.sdkappid) for x in listed}
    records = month_usage(u, month, [sid for found in ids.values() for sid in found],
                          [x for _, listed in todo for x in listed])
    apps = {int(a.sdkappid): a for a in u.apps.many({(int(r.sdkappid),) for r in records})}
    out = {}
    for account_id, found in ids.items():
        mine = [r for r in records if int(r.sdkappid) in found]
        out[account_id] = SettleReads(accounts.get(account_id), {sid: apps[sid] for sid in found if sid in apps},
                                      mine, listed_ids.get(account_id))
    return out


def usage_accounts(store: Callable[[], UnitOfWork], month: str) -> Iterator[tuple[str, list[Any]]]:
    """Accounts with usage in a month (the by_month index, shard by shard), with their app records."""
    yield from UsagePage(store, month, None)


def settle_account(ctx: Ctx, month: str, account_id: str, usage: list[Any]) -> str:
    """The month's bill of one account from its month items (or `no_charge`); `usage` is what the
    index listed, with the page's reads of the account when the job read them (Listed)."""
    start, end = month_bounds(month, ctx.tz)
    reads = getattr(usage, "reads", None)
    if reads is None:
        with ctx.uow() as u:
            acct = u.accounts.get(account_id)
            reads = settlement_reads(u, month, [(account_id, list(usage))], {account_id: acct} if acct else {})[
                account_id]
    lines: list[Line] = []
    for u in reads.usage:
        app = reads.apps.get(int(u.sdkappid))
        if app is None or app.account_id != account_id:
            continue
        lines += monthly_lines(
            MonthUsage(int(u.sdkappid), int(u.mau), u.counters()),
            AppFacts(app.edition, state(app).off_spans), start, end, ctx.catalog,
        )
    acct = reads.account
    if acct is not None and reads.app_ids:
        acct.app_ids = reads.app_ids  # the list found through by_account, written with the account
    outcome = (post_bill(ctx, account_id, "monthly", month, lines, acct=acct) if lines
               else no_charge(ctx, account_id, month, acct))
    reclaimed = {sid for sid, app in reads.apps.items() if app.status == Status.RECLAIMED}
    gone = [x for x in reads.usage if int(x.sdkappid) in reclaimed]
    if gone:
        with ctx.uow() as u:
            u.usage.delete(gone)  # kept only to be billed
    return outcome


def no_charge(ctx: Ctx, account_id: str, month: str, acct: AccountModel | None = None) -> str:
    """Nothing to bill for the month: noted on the account, so a later run of the window passes it."""
    with ctx.uow() as u:
        if acct is None:
            acct = u.accounts.get(account_id)
        if acct is None or acct.settled_month == month:
            return "no_charge"
        acct.settled_month, acct.settled_outcome = month, "no_charge"
        u.accounts.save(acct)
        u.commit()
    return "no_charge"


# ------------------------------------------------------------------ daily push bills
def push_billing_apps(store: Callable[[], UnitOfWork]) -> list[AppModel]:
    """The apps in the push-billing index."""
    with store() as u:
        return u.apps.push_billing()


def push_next_due(ctx: Ctx, first_day: date) -> datetime | None:
    """When the push-quota-billing job next has work, its runs billing local days from
    `first_day` on: the local midnight after the first such day (a run bills the local day
    before its own)."""
    days = [d for d in (push_work_day(quota_log(a), quota_until(ctx, a), first_day, ctx.tz, ctx.catalog)
                        for a in push_billing_apps(ctx.uow)) if d]
    return local_midnight(min(days) + timedelta(days=1), ctx.tz) if days else None


def quota_log(app: AppModel) -> list[tuple[datetime, int]]:
    return [(c.at, int(c.quota)) for c in (app.push_quota_log or [])]


def quota_until(ctx: Ctx, app: AppModel) -> datetime | None:
    """End of the paid periods of the plugin whose daily quota is billed (push)."""
    return app.until(ctx.catalog.quota_plugin)


PushItem = tuple[str, list[AppModel], AccountModel | None]  # account, its push-billing apps, the account read


def push_accounts(apps: Iterable[AppModel], store: Callable[[], UnitOfWork] | None = None) -> Iterator[PushItem]:
    """The push-billing apps grouped by account (one bill each); with `store`, each account read
    with its 99 neighbours in one BatchGetItem (strongly consistent) for the bill's first attempt."""
    by_account = sorted(apps, key=lambda a: (a.account_id, int(a.sdkappid)))
    groups = ((account_id, list(group)) for account_id, group in groupby(by_account, key=lambda a: a.account_id))
    while chunk := list(islice(groups, 100)):
        accounts: dict[str, AccountModel] = {}
        if store is not None:
            with store() as u:
                accounts = {a.account_id: a for a in u.accounts.many([(x,) for x, _ in chunk], consistent=True)}
        for account_id, group in chunk:
            yield account_id, group, accounts.get(account_id)


def reload_push_account(ctx: Ctx, item: PushItem) -> PushItem:
    """The account's push-billing apps read again (strongly) before a step is decided again (and
    the account, by the bill)."""
    account_id, apps, _ = item
    with ctx.uow() as u:
        return account_id, [u.apps.find(int(a.sdkappid)) for a in apps], None


def push_bill(ctx: Ctx, day: Any, account_id: str, apps: list[AppModel], acct: AccountModel | None = None,
              close: PeriodClose | None = None) -> dict[str, int]:
    """The daily push bill of one account for local day `day`: its apps with a quota above the
    included during it; the apps without one from that day on leave the push-billing index first. `acct`:
    the account as the page read it; `close`: the day's close, carried by the run's first bill."""
    lines = []
    released = 0
    for app in apps:
        line, release = push_day(int(app.sdkappid), quota_log(app), quota_until(ctx, app), day, ctx.tz, ctx.now,
                                 ctx.catalog)
        if line is not None:
            lines.append(line)
        elif release and app.push_billing_shard is not None:
            _release_push_billing(ctx, app)
            released += 1
    outcome = (post_bill(ctx, account_id, "daily", day.isoformat(), lines, acct=acct, close=close) if lines
               else "no_charge")
    return {outcome: 1, "released": released}


def _release_push_billing(ctx: Ctx, app: AppModel) -> None:
    """No quota above the included from the billed day on: the app leaves the push-billing index (and a
    reclaimed app's quota log, kept only for these bills, goes). A conflict is raised (re-decided)."""
    app.push_billing_shard = None
    if app.status == Status.RECLAIMED:
        app.push_quota_log = None
        app.set_until(ctx.catalog.quota_plugin, None)
    with ctx.uow() as u:
        store_app(u, ctx, app)
        u.commit()


# ------------------------------------------------------------------ arrears
def enforce_arrears(ctx: Ctx, acct: AccountModel) -> dict[str, int]:
    """24 h in arrears: stop every enabled app (reason arrears); then the account leaves the index.

    Decided on the account as stored now. Each stop writes the account too, so it commits only over
    the account as read (a top-up that ends the arrears meanwhile makes it a conflict: the step
    runner decides again on the new account), and so does the account's final save. The counts
    are those of the run that commits that save: the stops of this instant, also those a conflicted
    attempt (or a concurrent run) made before it."""
    reads = ctx.uow()
    stored = reads.accounts.get(acct.account_id)
    if stored is None:
        raise NotFound(f"account {acct.account_id} not found")
    acct = stored
    run = arrears_of(acct).enforce(ctx.now)
    if run is None:
        return {}
    after, stop_apps = run
    stopped = 0
    if stop_apps:
        since = iso(acct.arrears_since) if acct.arrears_since else "-"
        why = render(ctx.catalog, "stopped_arrears", since=since)
        for app in reads.apps.each_of_account(acct.account_id):
            stop = stop_for_arrears(state(app), ctx.now)
            if stop is not None:
                stop_app(ctx, app, acct, stop, why, write_account=True)
            stopped += state(app).stopped_for(StopReason.ARREARS, ctx.now)
    put_arrears(acct, after)
    with ctx.uow() as u:
        u.accounts.save(acct)
        u.commit()
    return {"accounts": 1, "stopped": stopped}


def end_arrears(uow: UnitOfWork, ctx: Ctx, acct: AccountModel) -> None:
    """A top-up that brings cash + gift to zero or above ends the arrears; apps stopped for
    arrears whose package is still valid are enabled again (in the top-up's commit)."""
    ended = arrears_of(acct).end(int(acct.cash) + int(acct.gift))
    if ended is None:
        return
    put_arrears(acct, ended)
    for listed in uow.apps.each_of_account(acct.account_id):
        app = uow.apps.find(int(listed.sdkappid))  # the index may lag a stop just made
        back = back_from_arrears(state(app), ctx.now)
        if back is not None:
            store_app(uow, ctx, put(app, back))
