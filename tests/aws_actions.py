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
_SINKS: list[set[str]] = []  # open recording() blocks
_ROOT = Path(__file__).resolve().parents[1]
CODE = (str(_ROOT / "chalicelib") + os.sep, str(_ROOT / "app.py"))
# operator tooling in chalicelib, not run by the functions (tables come from CloudFormation)
TOOLING = tuple(str(_ROOT / "chalicelib" / p) for p in ("store/tables.py", "cli.py", "local" + os.sep))
# the local stream poller of `imbill serve`: its own calls (DescribeTable, the streams' reads) are not
# the functions' (in AWS, Lambda's event source mappings read the streams with the role: the policy's
# `Streams` statement); what apply_records does under it is recorded as any code's
LOCAL_READERS = (str(_ROOT / "chalicelib" / "views" / "poller.py"),)


def _caller_is_code() -> bool:
    """True when the call comes from the service's code (a function's), not from a test's set-up or
    assertions (which read whole tables) nor from operator tooling (`imbill tables create`)."""
    frame = sys._getframe(2)
    code = False
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(TOOLING):
            return False
        if name.startswith(CODE):
            if not code and name.startswith(LOCAL_READERS):
                return False  # the innermost code frame is the poller's own call
            code = True
        frame = frame.f_back  # type: ignore[assignment]
    return code


# botocore's event name of a service whose IAM prefix differs
IAM_PREFIX = {"eventbridge": "events"}
# IAM authorises each item of a transaction as its own action
TRANSACT_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                         "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def _record(event_name: str, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
    # event_name: before-parameter-build.<service>.<Operation>; the service id is the IAM prefix for ours
    if _caller_is_code():
        _, service, operation = event_name.split(".", 2)
        service = IAM_PREFIX.get(service, service)
        actions = {f"{service}:{operation}"}
        for item in (params or {}).get("TransactItems", []):
            actions.update(f"{service}:{TRANSACT_ITEM_ACTIONS[kind]}" for kind in item)
        for sink in (RECORDED, *_SINKS):
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
        (out_dir / f"{worker['workerid']}.json").write_text(json.dumps(sorted(RECORDED)))
        return
    actions = set(RECORDED)
    for f in out_dir.glob("*.json"):
        actions |= set(json.loads(f.read_text()))
        f.unlink()
    out_dir.rmdir()
    from infra.policy import allowed_actions

    missing = sorted(a for a in actions if a not in allowed_actions())
    (out_dir.parent / "last-run.json").write_text(json.dumps(sorted(actions), indent=1))
    if missing:
        session.exitstatus = 1
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        line = f"the tests performed AWS actions the functions' IAM policy (infra/policy.py) does not allow: {missing}"
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line)


def start_run(config: Any) -> None:
    """In the controlling process: a fresh run id, inherited by the xdist workers it starts."""
    if getattr(config, "workerinput", None) is None:
        os.environ["IMBILL_ACTIONS_RUN"] = f"{os.getpid()}-{int(time.time() * 1000)}"
