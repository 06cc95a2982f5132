"""Logs and metrics an on-call engineer can use (AWS Lambda Powertools).

- Every ``imbill.*`` logger propagates to the ``imbill`` logger (the app's name: Chalice's app
  logger too, created with ``configure_logs=False`` so it is not set to ERROR nor cut off). In
  Lambda (or with ``IMBILL_LOG_JSON=1``) that logger is a Powertools ``Logger``: one JSON object per
  line with ``request_id``, ``route``, ``account``, ``job`` and ``instant`` when known (:func:`bind`).
- Metrics are CloudWatch embedded-metric-format lines (Powertools ``Metrics``, namespace
  ``imbill``), written only in Lambda: business counts (:func:`money_moved`) flushed at the end of
  each invocation (:func:`flush`), and one set per job run with the job as a dimension (:func:`job_run`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

SERVICE = "imbill"  # = Chalice's app_name = the parent of every imbill.* logger
NAMESPACE = "imbill"
IDLE_OUTCOMES = ("skipped", "no_charge")  # counts of a summary that are not work done


def acted_on(summary: dict[str, int]) -> int:
    """How many items a run acted on: its counts but the idle outcomes (and `failed`)."""
    return sum(int(v) for k, v in summary.items() if k not in IDLE_OUTCOMES and k != "failed")

log = logging.getLogger("imbill.jobs")
_json_logger: Any = None  # the Powertools Logger once configured for JSON
_metrics: Any = None


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def configure(json_logs: bool | None = None) -> None:
    """Make ``imbill.*`` records reach a handler at INFO: JSON in Lambda, the root's handlers elsewhere."""
    global _json_logger
    if json_logs is None:
        json_logs = in_lambda() or os.environ.get("IMBILL_LOG_JSON") == "1"
    base = logging.getLogger(SERVICE)
    if json_logs:
        if _json_logger is None:
            from aws_lambda_powertools import Logger

            _json_logger = Logger(service=SERVICE, level=os.environ.get("IMBILL_LOG_LEVEL", "INFO"))
        base.propagate = False  # the Lambda runtime's root handler would print each line a second time
    else:
        base.setLevel(logging.INFO)
        base.propagate = True


def bind(**keys: Any) -> None:
    """Add keys to every JSON log line of this invocation (None values are left out)."""
    if _json_logger is not None:
        _json_logger.append_keys(**{k: v for k, v in keys.items() if v is not None})


def unbind(*keys: str) -> None:
    if _json_logger is not None:
        _json_logger.remove_keys(list(keys))


def metrics() -> Any:
    """The invocation's metric set (Powertools Metrics), or None outside Lambda."""
    global _metrics
    if not in_lambda():
        return None
    if _metrics is None:
        from aws_lambda_powertools import Metrics

        _metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
    return _metrics


def money_moved(kind: str, cash: int, gift: int) -> None:
    """One committed ledger entry: counts and amounts (cents) per kind (bill, purchase, refund...)."""
    m = metrics()
    if m is None:
        return
    from aws_lambda_powertools.metrics import MetricUnit

    name = "".join(p.capitalize() for p in kind.split("_"))
    m.add_metric(name=f"{name}Count", unit=MetricUnit.Count, value=1)
    m.add_metric(name=f"{name}Cents", unit=MetricUnit.Count, value=abs(cash) + abs(gift))


def flush() -> None:
    """Write the invocation's metrics (an EMF line) if there are any."""
    if _metrics is not None and _metrics.metric_set:
        _metrics.flush_metrics()


def _job_metrics(job: str, values: dict[str, tuple[str, float]]) -> None:
    if not in_lambda():
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    for name, (unit, value) in values.items():
        with single_metric(name=name, unit=MetricUnit[unit], value=value, namespace=NAMESPACE) as metric:
            metric.add_dimension(name="service", value=SERVICE)
            metric.add_dimension(name="job", value=job)


def job_run(job: str, at: datetime, run: Callable[[], tuple[dict[str, int], int]]) -> tuple[dict[str, int], int]:
    """Run one job as of `at` (`run` answers its summary and how many items failed): one summary log
    line (or the error) and its metrics, whatever starts it (schedule, API, CLI)."""
    bind(job=job, instant=at.isoformat())
    started = time.perf_counter()
    try:
        summary, failed = run()
    except Exception:
        ms = (time.perf_counter() - started) * 1000
        log.exception("job %s as of %s failed after %.0f ms", job, at.isoformat(), ms)
        _job_metrics(job, {"JobRunsFailed": ("Count", 1), "JobDuration": ("Milliseconds", ms)})
        raise
    finally:
        unbind("job", "instant")
    ms = (time.perf_counter() - started) * 1000
    done = acted_on(summary)
    log.log(logging.WARNING if failed else logging.INFO, "job %s as of %s: %s, %d failed, in %.0f ms",
            job, at.isoformat(), summary, failed, ms,
            extra={"job": job, "instant": at.isoformat(), "summary": summary, "failed": failed,
                   "duration_ms": round(ms)})
    _job_metrics(job, {"JobItemsDone": ("Count", done), "JobItemsFailed": ("Count", failed),
                       "JobDuration": ("Milliseconds", ms)})
    return summary, failed
