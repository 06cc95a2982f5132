"""Fan-out of a scheduled job run over the jobs' SQS queue (docs/capacity.md).

A scheduled run is a planner (`plan`): it prepares the run once (e.g. closes the billed month),
and when the run has more than IMBILL_JOBS_INLINE_MAX due items it sends one message
`{"job", "at", "shard"}` per shard instead of walking them itself. A worker (`handle_batch`, the
`@app.on_sqs_message` handler) processes one message as one page of its shard with the job's own
idempotent step (steps.run_each with the job's Work.step): at most IMBILL_JOBS_PAGE items, and
when the shard holds more it first (before the steps) sends the next page's message `{..., "cursor"}`.
The run is recorded in the job-runs view: the planner writes its row (messages carry its start,
`"run"`), each page adds its counts there, once per page however often it is delivered.

Where the line is: no queue configured (IMBILL_JOBS_QUEUE_URL unset: locally, tests), the test
clock, a job without sharded work (push-quota-billing: its bill is per account while its index
is sharded by app), or at most IMBILL_JOBS_INLINE_MAX items due: the run stays inline, exactly
as before. The planner finds out by reading at most INLINE_MAX + 1 due items (a Limit'ed Query
per shard), the same reads the inline run starts with.

Failures: a message whose processing raised (listing, sending the next page) or whose page had
items that failed is reported in `batchItemFailures`: SQS delivers it again after the visibility
timeout, and after maxReceiveCount receives it moves to the dead-letter queue (alarm). Its items
that succeeded are not done twice (each step re-checks the item: a bill key, a due time moved),
and delivering a message twice, or out of order, changes nothing but cost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from typing import Any

from chalicelib import aws, logs
from chalicelib.config import Settings
from chalicelib.domain.calendar import iso, parse_instant
from chalicelib.jobs import runner
from chalicelib.jobs.registry import Job, Work
from chalicelib.jobs.steps import Summary, counting_failures
from chalicelib.readmodels import job_runs
from chalicelib.services.context import Contexts, Ctx

log = logging.getLogger("imbill.jobs")


def send(s: Settings, message: dict[str, Any]) -> None:
    aws.client("sqs", s.region).send_message(QueueUrl=s.jobs_queue_url, MessageBody=json.dumps(message, sort_keys=True))


def fans_out(job: Job, s: Settings) -> bool:
    """Whether runs of this job may go on the queue at all (else always inline)."""
    return job.work is not None and bool(s.jobs_queue_url) and not s.test_clock


def due_at_least(work: Work, ctx: Ctx, at: datetime, n: int) -> int:
    """How many items are due, counting no further than `n` (at most one short Query per shard)."""
    seen = 0
    for shard in ctx.uow().due.shards():
        seen += sum(1 for _ in islice(work.items(ctx, at, shard, None, n - seen), n - seen))
        if seen >= n:
            break
    return seen


def plan(name: str, at: datetime, contexts: Contexts) -> dict[str, Any]:
    """The scheduled run of a job: inline below the line, else one message per shard."""
    job = runner.load_jobs()[name]
    work = job.work
    s = contexts.settings
    if work is None or not fans_out(job, s):
        return runner.run_job(name, at, contexts)
    ctx = contexts.at(at)
    if not work.prepare(ctx, at):
        return runner.run_job(name, at, contexts)  # nothing to do at this instant: an idle inline run
    if due_at_least(work, ctx, at, s.jobs_inline_max + 1) <= s.jobs_inline_max:
        return runner.run_job(name, at, contexts)
    shards = list(ctx.uow().due.shards())
    started = job_runs.wall_now()
    job_runs.fanned_out(name, at, started, job.summary())  # the run's row, before its pages add to it
    for shard in shards:
        send(s, {"job": name, "at": iso(at), "shard": shard, "run": iso(started)})
    log.info("job %s as of %s: fanned out to %d shard messages", name, iso(at), len(shards))
    return {"job": name, "at": iso(at), "fanned_out": len(shards)}


def process(message: dict[str, Any], contexts: Contexts) -> tuple[Summary, int]:
    """One message: one page of one shard (sending the next page's message first when the shard
    has more). Answers the page's counts and how many of its items failed."""
    job = runner.load_jobs()[message["job"]]
    if job.work is None:
        raise ValueError(f"job {job.name} has no sharded work to fan out")
    work = job.work
    at = parse_instant(message["at"])
    ctx = contexts.job(job.name, at)

    def page() -> tuple[Summary, int]:
        listing = work.items(ctx, at, int(message["shard"]), message.get("cursor"), ctx.settings.jobs_page)
        items = list(listing)
        if listing.cursor is not None:  # before the steps: a failing item never stops the shard's chain
            send(ctx.settings, {**message, "cursor": listing.cursor})
        with counting_failures() as failures:
            counts = work.run_page(ctx, items, at)
        return job.summary(counts), len(failures)

    summary, failed = logs.job_run(job.name, at, page)
    if "run" in message:  # the run's row (readmodels/job_runs.py) counts each page once
        job_runs.add_page(job.name, at, parse_instant(message["run"]),
                          f"{message['shard']}#{json.dumps(message.get('cursor'), sort_keys=True)}",
                          summary, failed, logs.IDLE_OUTCOMES)
    return summary, failed


def handle_batch(records: Iterable[dict[str, Any]], contexts: Contexts) -> dict[str, list[dict[str, str]]]:
    """A batch of queue records (Lambda's SQS event): the ids of those to deliver again
    (ReportBatchItemFailures): processing raised, or items of the page failed."""
    failures = []
    for record in records:
        try:
            _, failed = process(json.loads(record["body"]), contexts)
        except Exception:  # noqa: BLE001 - one message's error never fails the others of the batch
            log.exception("jobs message %s failed; it will be delivered again", record.get("messageId"))
            failed = 1
        if failed:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
