"""Record every AWS API action the tests perform (a botocore `before-parameter-build` hook on every session),
and check them against the functions' IAM policy (infra/policy.py).

Installed by tests/conftest.py before any botocore session exists. Under xdist each worker writes
its actions to a file; the controlling process checks the union when the session ends and fails
the run if the policy does not allow one of them (tests/integration/test_policy.py checks the
converse: the policy allows no service the code never calls)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RECORDED: set[str] = set()
BY_FUNCTION: dict[str, set[str]] = {}  # the deployed function a call belongs to -> its actions
_SINKS: list[set[str]] = []  # open recording() blocks
_FUNCTION_SINKS: list[dict[str, set[str]]] = []  # open recording_by_function() blocks
_ROOT = Path(__file__).resolve().parents[1]
CODE = (str(_ROOT / "chalicelib") + os.sep, str(_ROOT / "app.py"))
# operator tooling in chalicelib, not run by the functions (tables come from CloudFormation)
TOOLING = tuple(str(_ROOT / "chalicelib" / p) for p in ("store/dynamodb/tables.py", "cli.py", "local" + os.sep))
# the local stream poller of `imbill serve`: its own calls (DescribeTable, the streams' reads) are not
# the functions' (in AWS, Lambda's event source mappings read the streams with the role: the policy's
# `Streams` statement); what apply_records does under it is recorded as any code's
LOCAL_READERS = (str(_ROOT / "chalicelib" / "views" / "poller.py"),)


# The deployed function a call belongs to, by the outermost entry point on the stack (infra/policy.py
# FUNCTIONS): (file under chalicelib, function name) -> the function's logical id, or "job" for a
# scheduled job's planner (its name is the frame's local `name`: ExpiryWarnings for expiry-warnings).
_CHALICELIB = str(_ROOT / "chalicelib") + os.sep
ENTRY_POINTS = {
    ("api" + os.sep, None): "APIHandler",
    ("readmodels" + os.sep + "streams.py", "apply_records"): "StreamHandler",
    ("jobs" + os.sep + "fanout.py", "handle_batch"): "JobsWorker",
    ("jobs" + os.sep + "fanout.py", "process"): "JobsWorker",
    ("jobs" + os.sep + "fanout.py", "plan"): "job",
    ("jobs" + os.sep + "runner.py", "run_job"): "job",
    ("jobs" + os.sep + "scheduler.py", "catch_up"): "local",  # imbill serve's scheduler: no deployed function
    ("webhooks", None): "WebhookDeliverer",  # issue 19's deliverer (chalicelib/**/webhooks*)
}


def _entry(frame: Any) -> str | None:
    name = frame.f_code.co_filename
    if not name.startswith(_CHALICELIB):
        return None
    rel = name[len(_CHALICELIB):]
    for (where, func), function in ENTRY_POINTS.items():
        if (rel.startswith(where) or (where == "webhooks" and "webhooks" in rel)) and \
                (func is None or frame.f_code.co_name == func):
            if function == "job":
                job = frame.f_locals.get("name")
                return "".join(w.capitalize() for w in str(job).split("-")) if job else None
            return function
    return None


def _caller() -> tuple[bool, str | None]:
    """Whether the call comes from the service's code (a function's), not from a test's set-up or
    assertions (which read whole tables) nor from operator tooling (`imbill tables create`); and
    the deployed function it belongs to (the outermost entry point; None: none recognised)."""
    frame = sys._getframe(2)
    code = False
    function = None
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(TOOLING):
            return False, None
        if name.startswith(CODE):
            if not code and name.startswith(LOCAL_READERS):
                return False, None  # the innermost code frame is the poller's own call
            code = True
            function = _entry(frame) or function
        frame = frame.f_back  # type: ignore[assignment]
    return code, function


def _caller_is_code() -> bool:
    return _caller()[0]


# botocore's event name of a service whose IAM prefix differs
IAM_PREFIX = {"eventbridge": "events"}
# IAM authorises each item of a transaction as its own action
TRANSACT_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                         "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def _record(event_name: str, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
    # event_name: before-parameter-build.<service>.<Operation>; the service id is the IAM prefix for ours
    code, function = _caller()
    if code:
        _, service, operation = event_name.split(".", 2)
        service = IAM_PREFIX.get(service, service)
        actions = {f"{service}:{operation}"}
        for item in (params or {}).get("TransactItems", []):
            actions.update(f"{service}:{TRANSACT_ITEM_ACTIONS[kind]}" for kind in item)
        for sink in (RECORDED, *_SINKS, BY_FUNCTION.setdefault(function or "any", set()),
                     *(by.setdefault(function or "any", set()) for by in _FUNCTION_SINKS)):
            sink.update(actions)


@contextmanager
def recording() -> Iterator[set[str]]:
    """The actions the code performs inside the block (the run's record keeps them too)."""
    sink: set[str] = set()
    _SINKS.append(sink)
    try:
        yield sink
    finally:
        _SINKS.remove(sink)


@contextmanager
def recording_by_function() -> Iterator[dict[str, set[str]]]:
    """The actions the code performs inside the block, by the deployed function they belong to."""
    sink: dict[str, set[str]] = {}
    _FUNCTION_SINKS.append(sink)
    try:
        yield sink
    finally:
        _FUNCTION_SINKS.remove(sink)


def install() -> None:
    import botocore.handlers

    entry = ("before-parameter-build", _record)
    if entry not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(entry)


def _out_dir() -> Path:
    """One folder per run (the controller names it before xdist starts its workers)."""
    run = os.environ.setdefault("IMBILL_ACTIONS_RUN", f"{os.getpid()}")
    return _ROOT / ".pytest_cache" / "aws-actions" / run


def session_finish(session: Any) -> None:
    worker = getattr(session.config, "workerinput", None)
    out_dir = _out_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    if worker is not None:
        (out_dir / f"{worker['workerid']}.json").write_text(json.dumps(
            {"all": sorted(RECORDED), **{f: sorted(a) for f, a in BY_FUNCTION.items()}}))
        return
    actions = set(RECORDED)
    by_function = {f: set(a) for f, a in BY_FUNCTION.items()}
    for f in out_dir.glob("*.json"):
        data = json.loads(f.read_text())
        actions |= set(data.pop("all"))
        for function, done in data.items():
            by_function.setdefault(function, set()).update(done)
        f.unlink()
    out_dir.rmdir()
    (out_dir.parent / "last-run.json").write_text(json.dumps(
        {"all": sorted(actions), **{f: sorted(a) for f, a in sorted(by_function.items())}}, indent=1))
    problems = not_allowed(actions, by_function)
    if problems:
        session.exitstatus = 1
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        line = f"the tests performed AWS actions a function's IAM policy (infra/policy.py) does not allow: {problems}"
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line)


def not_allowed(actions: set[str], by_function: dict[str, set[str]]) -> dict[str, list[str]]:
    """What each deployed function did that its own policy does not allow (calls of no recognised
    function, and imbill serve's local scheduler, are held to the union of every function's)."""
    from infra.policy import FUNCTIONS, allowed_actions

    out = {}
    for function, done in {**by_function, "any": actions | by_function.get("any", set())}.items():
        allowed = allowed_actions(function=function if function in FUNCTIONS else None)
        missing = sorted(a for a in done if a not in allowed)
        if missing:
            out[function] = missing
    return out


def start_run(config: Any) -> None:
    """In the controlling process: a fresh run id, inherited by the xdist workers it starts."""
    if getattr(config, "workerinput", None) is None:
        os.environ["IMBILL_ACTIONS_RUN"] = f"{os.getpid()}-{int(time.time() * 1000)}"
