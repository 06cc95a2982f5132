"""Test wiring: moto in-process by default; IMBILL_TEST_BACKEND=ddblocal runs storage tests on DynamoDB Local."""

from __future__ import annotations

import copy
import functools
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

os.environ.update(
    {
        "IMBILL_STAGE": "local",
        "IMBILL_TEST_CLOCK": "1",
        "IMBILL_NOTIFY": "aws",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "IMBILL_TABLE_PREFIX": "test-",
    }
)
os.environ.pop("IMBILL_DYNAMODB_ENDPOINT", None)
os.environ.setdefault("IMBILL_TIMEZONE", "UTC")

import pytest  # noqa: E402

from chalicelib import config  # noqa: E402

BACKEND = os.environ.get("IMBILL_TEST_BACKEND", "moto")
# A fixed port only when asked for; otherwise each test process (each xdist worker) starts its own
# in-memory DynamoDB Local on a free port, so parallel workers and two test runs never collide.
DDB_PORT = os.environ.get("IMBILL_TEST_DDB_PORT")




def _unsigned(**_: Any) -> Any:
    import botocore

    return botocore.UNSIGNED


def _share_botocore_session() -> Any:
    """Speed: PynamoDB builds a new botocore session (re-reading ~1 MB of service JSON) per
    connection, i.e. ~1.5 s per test for the tables of a fresh store. On the main thread reuse one
    session, created after moto is imported so that its stubber is registered on it."""
    import threading

    import botocore.session
    import moto  # noqa: F401  (registers moto's botocore handlers before the session exists)
    import pynamodb.connection.base as pynamodb_base

    shared = botocore.session.get_session()

    def get_session() -> botocore.session.Session:
        if threading.current_thread() is threading.main_thread():
            return shared
        return botocore.session.get_session()

    pynamodb_base.get_session = get_session  # type: ignore[assignment]
    return shared


from tests import aws_actions, moto_speed  # noqa: E402

aws_actions.install()  # before any botocore session: records every action for the policy check
SHARED_SESSION = _share_botocore_session()
moto_speed.install()


def pytest_configure(config: pytest.Config) -> None:
    aws_actions.start_run(config)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    aws_actions.session_finish(session)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Longest first: the parallel workers take tests in collection order, so a heavy test collected
    # late would run alone at the end while the other workers wait (stable: the rest keep their order).
    items.sort(key=lambda item: "heavy" not in item.keywords)
    if BACKEND != "ddblocal":
        skip = pytest.mark.skip(reason="runs only against DynamoDB Local (IMBILL_TEST_BACKEND=ddblocal)")
        for item in items:
            if "ddblocal" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def ddb_endpoint() -> Iterator[str | None]:
    if BACKEND != "ddblocal":
        yield None
        return
    from chalicelib.local import ddblocal

    port = int(DDB_PORT) if DDB_PORT else ddblocal.free_port()
    with ddblocal.running(None, port):
        yield ddblocal.endpoint_url(port)


def _reset(tz: str) -> None:
    from chalicelib import bootstrap

    os.environ["IMBILL_TIMEZONE"] = tz
    bootstrap.reset()  # the next use composes the dependencies from this environment


@pytest.fixture
def billing_tz() -> str:
    """Override in a test module (or parametrize) to run in another billing zone."""
    return "UTC"


@functools.cache
def _ses_client() -> Any:
    """One SES client per test process (building a client costs ~0.3 s); moto's handlers, registered
    on import, answer it inside each test's mock_aws."""
    import boto3

    return boto3.client("ses", region_name="us-east-1")


_EMPTY_MOTO_TABLES: dict[str, Any] = {}


def _fresh_moto_tables(create_tables: Callable[[], object]) -> None:
    """The tables, empty, in the moto just started: created through the API by the first test of
    the process, later restored from a copy of that empty state (~0.7 s less per test)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][config.settings().region]
    if _EMPTY_MOTO_TABLES:
        backend.tables = copy.deepcopy(_EMPTY_MOTO_TABLES)
    else:
        create_tables()
        _EMPTY_MOTO_TABLES.update(copy.deepcopy(backend.tables))


_MADE: set[str] = set()  # the shared prefixes whose tables exist


@functools.cache
def _ddb_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=config.settings().region)


def _emptied(endpoint: str) -> None:
    """Every item of this process's tables deleted (a Scan of the keys, then BatchWriteItem): ~20 ms
    for tables a test left small, against ~120 ms to create and delete the tables per test. A table
    found missing is made again."""
    from chalicelib.store.dynamodb.tables import ALL_MODELS, create_tables

    client = _ddb_client(endpoint)
    for model in ALL_MODELS:
        keys = [k for k in (model._hash_keyname, model._range_keyname) if k]
        names = {f"#k{i}": k for i, k in enumerate(keys)}
        scan: dict[str, Any] = {"TableName": model.Meta.table_name, "ProjectionExpression": ", ".join(names),
                                "ExpressionAttributeNames": names}
        try:
            for page in client.get_paginator("scan").paginate(**scan):
                for i in range(0, len(page["Items"]), 25):
                    deletes = [{"DeleteRequest": {"Key": key}} for key in page["Items"][i:i + 25]]
                    pending: dict[str, Any] = {model.Meta.table_name: deletes}
                    while pending:
                        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        except client.exceptions.ResourceNotFoundException:
            create_tables()


@pytest.fixture
def store(request: pytest.FixtureRequest, ddb_endpoint: str | None, billing_tz: str) -> Iterator[None]:
    """Empty tables for one test: moto in-process, or on DynamoDB Local this process's tables
    emptied (made on first use). A test marked `fresh_tables` (it creates or drops tables, or reads
    a table's stream from its horizon) gets tables of its own under a unique prefix instead."""
    from chalicelib.store.dynamodb import tables
    from chalicelib.store.dynamodb.tables import create_tables, delete_tables

    _reset(billing_tz)
    if ddb_endpoint is None:
        from moto import mock_aws

        # moto in-process reads no signature: signing each request cost ~10 % of a moto test (a
        # moto *server* tells the service from the signature, so only inside mock_aws)
        SHARED_SESSION.register("choose-signer.dynamodb", _unsigned)
        try:
            with mock_aws():
                _ses_client().verify_email_identity(EmailAddress=config.settings().email_from)
                tables.configure(host=None, prefix="test-")
                _fresh_moto_tables(create_tables)
                yield
        finally:
            SHARED_SESSION.unregister("choose-signer.dynamodb", _unsigned)
    else:
        fresh = request.node.get_closest_marker("fresh_tables") is not None
        prefix = f"t{uuid.uuid4().hex[:8]}-" if fresh else f"w{os.getpid()}-"
        os.environ["IMBILL_TABLE_PREFIX"] = prefix
        os.environ["IMBILL_DYNAMODB_ENDPOINT"] = ddb_endpoint
        os.environ["IMBILL_NOTIFY"] = "local"
        _reset(billing_tz)
        tables.configure(host=ddb_endpoint, prefix=prefix)
        if fresh or prefix not in _MADE:
            create_tables()
            _MADE.update(() if fresh else (prefix,))
        else:
            _emptied(ddb_endpoint)
        try:
            yield
        finally:
            if fresh:
                delete_tables()
            os.environ.pop("IMBILL_DYNAMODB_ENDPOINT", None)
            os.environ["IMBILL_TABLE_PREFIX"] = "test-"
            os.environ["IMBILL_NOTIFY"] = "aws"
    _reset("UTC")


@pytest.fixture
def api(store: None):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from chalice.test import Client

    import app as app_module
    from chalicelib.clock import StoredClock
    from tests.helpers import Api

    StoredClock().set(datetime(2025, 1, 1, tzinfo=UTC))  # scenarios move forward from here
    with Client(app_module.app) as client:
        yield Api(client)


@pytest.fixture
def patient_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Race tests check who wins, not the busy policy: let a contended write retry as long as it
    takes (on a loaded machine 20 racing threads can each lose more than the production budget)."""

    from chalicelib.store import port
    monkeypatch.setattr(port, "TRIES", 200)
    monkeypatch.setattr(port, "BUDGET", 120.0)
