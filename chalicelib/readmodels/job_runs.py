"""Job run history: one view item per run (`jobruns#<job>`, `<at>#<started_at>`): the runner writes
it after an inline run; a fanned-out run's planner writes it first (`fanned_out`) and each page of
its workers adds its counts (`add_page`), once per page however often the page is delivered."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.domain.calendar import iso, local_date, parse_instant
from chalicelib.logs import acted_on
from chalicelib.store.dynamodb import plumbing
from chalicelib.store.dynamodb.view_model import ViewModel
from chalicelib.store.port import with_retries

log = logging.getLogger("imbill.views")


def wall_now() -> datetime:
    """When a run really started and finished is operations data, not billing time: the wall clock."""
    return datetime.now(UTC)


def key(job: str, at: datetime, started_at: datetime) -> tuple[str, str]:
    return f"jobruns#{job}", f"{iso(at)}#{iso(started_at)}"


def record(result: dict[str, Any], at: datetime, started_at: datetime) -> None:
    """Write the run (it is also the job's heartbeat: `heartbeats`); a failed write is logged, never
    fails the run (its work is committed)."""
    try:
        _item(result, at, started_at, wall_now()).save()
    except Exception as err:  # noqa: BLE001
        log.warning("job run %s at %s not recorded: %s", result["job"], iso(at), err)


@dataclass(frozen=True)
class Beat:
    """What a stretch of a job's schedule did: its first and last instant, how many instants (idle
    ones too) and how many items its runs acted on. Written to the day of `last`."""

    job: str
    first: datetime
    last: datetime
    runs: int
    acted: int


def beat_key(job: str, last: datetime, tz: ZoneInfo) -> tuple[str, str]:
    return f"jobbeat#{job}", local_date(last, tz).isoformat()


def beat_actions(job: str, first: datetime, last: datetime, runs: int, acted: int) -> list[Action]:
    """The heartbeat's update: runs and acted ADDed, the last run set, the day's first run kept."""
    return [ViewModel.job.set(job), ViewModel.at.set(last), ViewModel.started_at.set(ViewModel.started_at | first),
            ViewModel.runs.add(runs), ViewModel.acted.add(acted)]


def beat_in(tx: TransactWrite, beat: Beat, tz: ZoneInfo) -> None:
    """Add a heartbeat's update to a transaction (the scheduler's mark: no request of its own)."""
    tx.update(ViewModel(*beat_key(beat.job, beat.last, tz)),
              actions=beat_actions(beat.job, beat.first, beat.last, beat.runs, beat.acted))


def heartbeats(jobs: list[str], tz: ZoneInfo) -> dict[str, dict[str, Any]]:
    """Each job's latest heartbeat (a Query per job, newest day first, one item), or its newest
    recorded run when that is later: a run of its own (`run_job`: the schedule's Lambda, the API, the
    CLI) is recorded as a job-run item, which is its heartbeat (no second write per run); the clock
    moves and the local scheduler, whose idle runs are not listed, add them up in `jobbeat` items."""
    out: dict[str, dict[str, Any]] = {}
    for job in jobs:
        for b in ViewModel.query(f"jobbeat#{job}", scan_index_forward=False, limit=1):
            out[job] = {"day": b.sk, "first_run": _opt(b.started_at), "last_run": _opt(b.at),
                        "runs": int(b.runs or 0), "acted": int(b.acted or 0)}
        for r in ViewModel.query(f"jobruns#{job}", scan_index_forward=False, limit=1):
            beat = out.get(job)
            if beat is None or beat["last_run"] is None or parse_instant(beat["last_run"]) < r.at:
                day = local_date(r.at, tz).isoformat()
                same_day = beat is not None and beat["day"] == day
                summary = json.loads(r.summary or "{}")
                out[job] = {"day": day, "first_run": beat["first_run"] if same_day and beat else iso(r.at),
                            "last_run": iso(r.at), "runs": (beat["runs"] if same_day and beat else 0) + 1,
                            "acted": (beat["acted"] if same_day and beat else 0) + acted_on(summary)}
    return out



def _opt(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def _item(result: dict[str, Any], at: datetime, started_at: datetime, finished_at: datetime) -> ViewModel:
    failed = result.get("failed", result["summary"].get("failed", 0))
    return ViewModel(*key(result["job"], at, started_at), job=result["job"], at=at, started_at=started_at,
                     finished_at=finished_at, summary=json.dumps(result["summary"], sort_keys=True),
                     failed=int(failed))


PAGE_KEEP = timedelta(days=14)  # a page's record outlives the queue's retention of its messages (4 days)
PAGE_TRIES = 20  # the pages of one run race on its row: a lost race re-reads and adds again
PAGE_BUDGET = 10.0


def fanned_out(job: str, at: datetime, started_at: datetime, summary: dict[str, int]) -> None:
    """The row of a run its planner fanned out (no counts yet: the pages add theirs)."""
    record({"job": job, "summary": summary, "failed": 0}, at, started_at)


def _counts(item: ViewModel | None) -> tuple[dict[str, int], int]:
    return ({}, 0) if item is None else (json.loads(item.summary or "{}"), int(item.failed or 0))


def _get(pk: str, sk: str) -> ViewModel | None:
    try:
        return ViewModel.get(pk, sk, consistent_read=True)
    except ViewModel.DoesNotExist:
        return None


def _unchanged(item: ViewModel | None) -> Any:
    """The condition that `item` (None: no item) is still as read."""
    if item is None:
        return ViewModel.pk.does_not_exist()
    return (ViewModel.summary == item.summary) & (ViewModel.failed == item.failed)


def add_page(job: str, at: datetime, started_at: datetime, page: str, summary: dict[str, int], failed: int,
             idle: tuple[str, ...]) -> None:
    """One delivery of page `page` of a fanned-out run: its counts into the run's row, idempotently.

    The page keeps its own record (summary, failed): the outcomes that act add up over deliveries
    (a step acts on an item once: a redelivered page finds the items it billed done and skips
    them), the `idle` ones are those of the page's first delivery, and `failed` is the latest
    delivery's. The row changes by the page record's change, in the same transaction (both
    conditioned on what was read), so a duplicate delivery changes nothing and a redelivery that
    settles a failed item moves it from failed to its outcome. A failed write is logged, never
    fails the page (its work is committed)."""
    page_key = (f"jobpages#{job}#{iso(at)}#{iso(started_at)}", page)

    def attempt() -> None:
        old, row = _get(*page_key), _get(*key(job, at, started_at))
        (before, failed_before), (totals, total_failed) = _counts(old), _counts(row)
        first = summary if old is None else before
        after = {k: v for k, v in first.items() if k in idle}
        for k, v in [*before.items(), *summary.items()]:
            if k not in idle:
                after[k] = after.get(k, 0) + v
        for k in after.keys() | before.keys():
            totals[k] = totals.get(k, 0) + after.get(k, 0) - before.get(k, 0)
        total_failed += failed - failed_before
        now = wall_now()
        with plumbing.write() as tx:
            tx.save(ViewModel(*page_key, job=job, at=at, summary=json.dumps(after, sort_keys=True), failed=failed,
                              expires=now + PAGE_KEEP), condition=_unchanged(old))
            tx.save(_item({"job": job, "summary": totals, "failed": total_failed}, at, started_at, now),
                    condition=_unchanged(row))

    try:
        with_retries(attempt, PAGE_TRIES, PAGE_BUDGET, lost=plumbing.lost_race)
    except Exception as err:  # noqa: BLE001
        log.warning("page %s of job run %s at %s not recorded: %s", page, job, iso(at), err)


def record_all(results: list[dict[str, Any]], started_at: datetime) -> None:
    """The runs of one test-clock move or local scheduler tick (many instants in one call), in
    batches of 25: the runner lists only those that acted (an idle hourly run a year long would be
    8,760 items). A failed write is logged, never fails the move (its work is committed)."""
    finished = wall_now()
    try:
        with ViewModel.batch_write() as batch:
            for r in results:
                at = parse_instant(r["at"])
                batch.save(_item(r, at, started_at, finished))
    except Exception as err:  # noqa: BLE001
        log.warning("%d job runs of a move not recorded: %s", len(results), err)


def runs(jobs: list[str], limit: int) -> list[dict[str, Any]]:
    """Newest first: a Query per job (newest first, `limit`), merged."""
    found: list[ViewModel] = []
    for job in jobs:
        found += list(ViewModel.query(f"jobruns#{job}", scan_index_forward=False, limit=limit))
    found.sort(key=lambda r: (r.at, r.started_at), reverse=True)
    return [{
        "job": r.job,
        "at": iso(r.at),
        "started_at": iso(r.started_at),
        "finished_at": iso(r.finished_at),
        "summary": json.loads(r.summary or "{}"),
        "failed": int(r.failed or 0),
    } for r in found[:limit]]

