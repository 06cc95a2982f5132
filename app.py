"""imbill: wiring only. Routes live in chalicelib/api, one @app.schedule per job below (a planner:
inline, or fanned out on the jobs queue), and the jobs queue's worker (chalicelib/jobs/fanout.py)."""

from __future__ import annotations

import gc

# Cold start: importing the code and its libraries creates some 90k long-lived objects, and the
# cyclic garbage collector would stop to scan them all (a full collection, ~40 ms of a ~400 ms
# import) only to find nothing to free. It is off while this module loads; at the end those objects
# are frozen (later collections skip them) and it is back on.
_gc_was_on = gc.isenabled()
gc.disable()

import os
from collections.abc import Iterable
from typing import Any

from chalice import Chalice

from chalicelib import bootstrap, logs
from chalicelib.api import register
from chalicelib.api.http import ImbillApp, request_id
from chalicelib.config import jobs_queue_name, settings, webhooks_queue_name
from chalicelib.domain.calendar import parse_instant
from chalicelib.jobs import fanout
from chalicelib.jobs.registry import Job
from chalicelib.jobs.runner import load_jobs
from chalicelib.readmodels.streams import wire_streams
from chalicelib.services.context import Contexts
from chalicelib.store.dynamodb import plumbing
from chalicelib.store.dynamodb.tables import configure

logs.configure()
settings()  # validates every setting: a bad one refuses the start with one line (no secret needed)
configure()
bootstrap.use(bootstrap.compose())  # the Lambda's dependencies (the notifier is made on first use)
plumbing.warm()  # the DynamoDB client and its service model now, not in the first request
# configure_logs=False: Chalice would set the `imbill` logger (its app name, the parent of every
# imbill.* logger) to ERROR and stop its propagation, dropping the project's warnings.
def _contexts() -> Contexts:
    """The context factory of the process's composition (API handlers, jobs, workers, stream handlers)."""
    return bootstrap.current().contexts


app = ImbillApp("imbill", _contexts, configure_logs=False)
register(app)


@app.middleware("http")
def _request_log_context(event: Any, get_response: Any) -> Any:
    """Every answer carries X-Request-Id (API Gateway's request id, or a new one locally), and every
    log line of the request the same id."""
    ctx = event.context or {}
    rid = request_id(event)
    if isinstance(event.context, dict):
        event.context.setdefault("requestId", rid)  # the route's events carry the same id
    logs.bind(request_id=rid, route=f"{event.method} {ctx.get('resourcePath', event.path)}",
              account=(event.uri_params or {}).get("account_id"))
    try:
        response = get_response(event)
        response.headers["X-Request-Id"] = rid
        return response
    finally:
        logs.unbind("request_id", "route", "account")


@app.middleware("all")
def _flush_metrics(event: Any, get_response: Any) -> Any:
    try:
        return get_response(event)
    finally:
        logs.flush()


def _scheduled(name: str) -> Any:
    def handler(event: Any) -> dict[str, Any]:
        logs.bind(request_id=getattr(event.context, "aws_request_id", None))
        return fanout.plan(name, parse_instant(event.time), _contexts())

    handler.__name__ = name.replace("-", "_")
    return handler


def wire_schedules(chalice: Chalice, jobs: Iterable[Job]) -> dict[str, Any]:
    """One scheduled function per job, on the registry's own cron (Schedule.aws_cron); answers the
    handlers by function name."""
    handlers = {}
    for job in jobs:
        name = job.name.replace("-", "_")
        handlers[name] = chalice.schedule(job.schedule.aws_cron, name=name)(_scheduled(job.name))
    return handlers


# Lambda resolves each function's handler "app.<name>" as an attribute of this module
globals().update(wire_schedules(app, load_jobs().values()))


# batch_size 1: a message is already a page of IMBILL_JOBS_PAGE items; a batch would run shards one
# after the other in one invocation that could run side by side (docs/capacity.md)
@app.on_sqs_message(queue=jobs_queue_name(settings().stage), batch_size=1, name="jobs_worker")
def jobs_worker(event: Any) -> dict[str, list[dict[str, str]]]:
    logs.bind(request_id=getattr(event.context, "aws_request_id", None))
    return fanout.handle_batch((record.to_dict() for record in event), _contexts())


@app.on_sqs_message(queue=webhooks_queue_name(settings().stage), batch_size=10, name="webhook_deliverer")
def webhook_deliverer(event: Any) -> dict[str, list[dict[str, str]]]:
    """The webhook deliveries' worker (chalicelib/services/event_feed.py): one attempt per due message."""
    from chalicelib.services import event_feed  # imported by this function only: not on the API's cold start

    logs.bind(request_id=getattr(event.context, "aws_request_id", None))
    return event_feed.handle_batch(_contexts(), (record.to_dict() for record in event))


def _on_stream(event: Any) -> dict[str, int]:
    from chalicelib.services.event_feed import apply_stream

    return apply_stream((record.to_dict() for record in event), _contexts())


def views_from_streams(event: dict[str, Any], context: Any) -> dict[str, int]:
    """The stream handler of the package (infra/package.py): Lambda calls `app.views_from_streams`
    with a batch of DynamoDB Streams records of accounts, ledger or notifications (one event source
    mapping per stream table). Answers the applied count per table; raising fails the batch, which
    Lambda bisects and retries."""
    logs.bind(request_id=getattr(context, "aws_request_id", None))
    from chalicelib.services.event_feed import apply_stream

    try:
        return apply_stream(event.get("Records", []), _contexts())
    finally:
        logs.flush()


# Read views from DynamoDB Streams. The packaged template (`make package`) maps every stream table to
# `views_from_streams` above; `chalice deploy` instead registers one event source per stream whose ARN
# it is given (IMBILL_STREAM_ARN_<TABLE>); locally `imbill serve` polls the streams.
wire_streams(app, _on_stream, os.environ)

gc.freeze()
if _gc_was_on:
    gc.enable()
