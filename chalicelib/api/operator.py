"""Operator views (contract "Operator views"): read from the views table and the jobs' due indexes,
never a table scan."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib import shapes
from chalicelib.api import schemas as s
from chalicelib.api.http import Call, route
from chalicelib.domain.calendar import iso, month_key
from chalicelib.domain.errors import InvalidRequest
from chalicelib.jobs import due
from chalicelib.jobs.runner import load_jobs
from chalicelib.readmodels import job_runs, read
from chalicelib.services import notifications

bp = Blueprint(__name__)
OPERATOR = ("operator",)
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
REVENUE_MAX_MONTHS = 120  # months one revenue answer may span


class DueItem(s.Reply):
    sdkappid: int | None = None
    account_id: str | None = None
    job: str
    due_at: str
    reason: str


class DueList(s.Reply):
    items: list[DueItem]


class RevenueMonth(s.Reply):
    month: str
    prepaid_sales: s.Money
    refunds: s.Money
    credits: s.Money
    postpaid_bills: s.Money
    net: s.Money


class RevenueList(s.Reply):
    items: list[RevenueMonth]


class JobRunItem(s.Reply):
    job: str
    at: str
    started_at: str
    finished_at: str
    summary: dict[str, int]
    failed: int


class JobRunList(s.Reply):
    items: list[JobRunItem]


class JobHealth(s.Reply):
    job: str
    schedule: str = Field(description="the EventBridge cron (UTC)")
    status: Literal["ok", "late", "never"] = Field(
        description="late: the next scheduled instant after the last run passed 15 min ago without a run; "
        "never: no heartbeat yet")
    day: str | None = Field(description="the local day of the latest heartbeat")
    first_run: str | None
    last_run: str | None
    runs: int = Field(description="scheduled instants covered that day, idle ones too")
    acted: int = Field(description="items the day's runs acted on")
    next_due: str | None


class JobHealthList(s.Reply):
    items: list[JobHealth]


class OpsNotification(s.Notification):
    account_id: str
    status: Literal["pending", "failed"]
    attempts: int
    last_error: str | None


class OpsNotificationList(s.Reply):
    items: list[OpsNotification]


@route(bp, "/v1/accounts", summary="Accounts by status and/or id or e-mail prefix (operator)",
       answer=s.page_of(s.Account), query=("status", "q", "limit", "next_token"), roles=OPERATOR)
def list_accounts(call: Call) -> dict[str, Any]:
    return read.accounts(call.query("status"), call.query("q"), call.limit(), call.query("next_token"))


@route(bp, "/v1/ops/due", summary="What each job will act on at or before an instant (operator)",
       answer=DueList, query=("job", "before", "limit"), roles=OPERATOR)
def list_due(call: Call) -> dict[str, Any]:
    job = call.query("job") or None
    if job is not None and job not in due.listed():
        raise InvalidRequest(f"job must be one of {', '.join(due.listed())}")
    raw = call.query("before")
    try:
        before = s.instant(raw) if raw else call.ctx.now + timedelta(days=7)
    except ValueError as err:
        raise InvalidRequest(f"before: {err}") from None
    assert before is not None
    return {"items": due.due(job, call.ctx, before, call.limit())}


def _month(call: Call, name: str, default: str) -> str:
    value = call.query(name) or default
    if not MONTH.fullmatch(value):
        raise InvalidRequest(f"{name} must be a month YYYY-MM")
    return value


@route(bp, "/v1/ops/revenue", summary=f"Revenue by month of the ledger (billing zone), at most "
       f"{REVENUE_MAX_MONTHS} months at once (from..to; more is a 400) (operator)",
       answer=RevenueList, query=("from", "to"), roles=OPERATOR)
def get_revenue(call: Call) -> dict[str, Any]:
    this_month = month_key(call.ctx.now, call.ctx.tz)
    last = _month(call, "to", this_month)
    first = _month(call, "from", f"{int(last[:4]) - 1}-{last[5:]}")
    if first > last:
        raise InvalidRequest("from must not be after to")
    if len(read.month_range(first, last)) > REVENUE_MAX_MONTHS:
        raise InvalidRequest(f"from..to spans more than {REVENUE_MAX_MONTHS} months: at most {REVENUE_MAX_MONTHS} "
                             "months at once")
    return {"items": read.revenue(first, last)}


@route(bp, "/v1/ops/job-runs", summary="Job runs, newest first (operator)", answer=JobRunList,
       query=("job", "limit"), roles=OPERATOR)
def list_job_runs(call: Call) -> dict[str, Any]:
    jobs = list(load_jobs())
    job = call.query("job") or None
    if job is not None and job not in jobs:
        raise InvalidRequest(f"job must be one of {', '.join(jobs)}")
    raw = call.query("limit")
    limit = call.limit() if raw is not None else 20
    return {"items": job_runs.runs([job] if job else jobs, limit)}


@route(bp, "/v1/ops/job-health", summary="Each job's latest daily heartbeat (idle runs counted) and whether it runs "
       "on schedule (operator)", answer=JobHealthList, roles=OPERATOR)
def list_job_health(call: Call) -> dict[str, Any]:
    jobs = load_jobs()
    beats = job_runs.heartbeats(list(jobs), call.ctx.tz)
    items = []
    for name, job in jobs.items():
        beat = beats.get(name) or {"day": None, "first_run": None, "last_run": None, "runs": 0, "acted": 0}
        last = s.instant(beat["last_run"])
        status, due = job.schedule.health(last, call.ctx.now)
        items.append({"job": name, "schedule": job.schedule.aws_cron, "status": status, **beat,
                      "next_due": iso(due) if due is not None else None})
    return {"items": items}


@route(bp, "/v1/ops/notifications", summary="Pending or failed notifications, oldest first (operator)",
       answer=OpsNotificationList, query=("status", "limit"), roles=OPERATOR)
def list_pending_notifications(call: Call) -> dict[str, Any]:
    return {"items": read.listed_notifications(call.query("status") or "failed", call.limit())}


class RetriedNotification(s.Notification):
    account_id: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str | None


@route(bp, "/v1/ops/notifications/retries", "POST", summary="Send a failed notification again (operator): pending "
       "with a fresh count of attempts, sent at once", body=s.NotificationRetry, answer=RetriedNotification,
       roles=OPERATOR, errors=(409,))
def retry_notification(call: Call) -> dict[str, Any]:
    return shapes.ops_notification(notifications.retry_failed(call.ctx, call.body.account_id,
                                                              call.body.notification_id))
