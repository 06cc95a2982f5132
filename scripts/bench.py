"""Benchmark (not a test): DynamoDB requests per item and items/s of the money moves and jobs,
and purchases on one hot account under concurrent clients (on DynamoDB Local).

Runs on moto in-process (mock_aws), tables created from the models as tests/conftest.py does.
Requests are counted with tests/integration/requests.py's botocore hook. Throughput on moto
measures the code path (serialisation, moto's emulation), not DynamoDB latency: read the
requests column as the cost model, the items/s column only to compare runs with each other.

    .venv/bin/python scripts/bench.py [--n 100] [--settle 2000]      # or: make bench

`--fanout-only` settles `--fanout-accounts` billed accounts on DynamoDB Local inline and fanned
out to 1, 4 and 8 worker threads (`--fanout-workers 0,1,4,8`, 0 = inline; chalicelib/jobs/fanout.py,
the queue in-process), each shape on a fresh DynamoDB Local, and reports accounts/s and DynamoDB
requests per account (docs/capacity.md is written from these figures).

`--year` (or `--only-year`) also moves the test clock through a year of a small data set
(tests/scenarios/year_data.py) on DynamoDB Local (needs Java), through the HTTP handler as
`PUT /v1/test/clock` would, and reports its requests and seconds.

The hot-account section runs against a DynamoDB Local it starts (in memory, a free port): C
client threads each buy 1-month Standard for its own app, all apps of ONE account, so every
purchase writes the same account item; it prints purchases/s, p50/p99 latency and the purchases
answered 503 `busy` (the retry budget ran out; nothing written). `--hot-only` runs just that.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.update(
    {
        "IMBILL_STAGE": "local",
        "IMBILL_NOTIFY": "local",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "IMBILL_TABLE_PREFIX": "bench-",
        "IMBILL_TIMEZONE": "UTC",
    }
)
os.environ.pop("IMBILL_DYNAMODB_ENDPOINT", None)

from moto import mock_aws  # noqa: E402
from tqdm import tqdm  # noqa: E402

UTC_TZ = ZoneInfo("UTC")
E = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)  # the due apps expire here
ROWS: list[tuple[str, int, Counter[str], float]] = []


def measure(label: str, items: Iterable[Any], fn: Callable[[Any], Any]) -> None:
    from tests.integration.requests import count_requests

    items = list(items)
    with count_requests() as counter:
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        elapsed = time.perf_counter() - t0
    ROWS.append((label, len(items), counter.calls, elapsed))


def measure_job(label: str, job: str, at: datetime, expect: str, n: int) -> None:
    from chalicelib.jobs import runner
    from tests.integration.requests import count_requests

    with count_requests() as counter:
        t0 = time.perf_counter()
        summary = runner.run_job(job, at, UTC_TZ)["summary"]
        elapsed = time.perf_counter() - t0
    if summary.get(expect) != n:
        raise SystemExit(f"{job} at {at}: expected {n} {expect}, got {summary}")
    ROWS.append((label, n, counter.calls, elapsed))


def seed_due_apps(account_id: str, base: int, n: int, status: str, noise: int) -> None:
    """n apps expiring at E (due), `noise` more expiring a year later (never due): batch writes."""
    from chalicelib.services.apps import refresh_dues
    from chalicelib.services.context import Ctx
    from chalicelib.store.models import AccountModel, AppModel, due_shard

    ctx = Ctx(now=E - timedelta(days=40), tz=UTC_TZ)
    AccountModel(account_id, email=f"{account_id}@x.test", phone="+15550100", due_shard=due_shard(account_id),
                 created_at=ctx.now, apps_count=n + noise).save()
    with AppModel.batch_write() as batch:
        for i in tqdm(range(n + noise), desc=f"seed {account_id}", unit="app", leave=False):
            sid = base + i
            app = AppModel(sid, account_id=account_id, name=f"a{i}", region="us", edition="standard",
                           status=status, created_at=ctx.now,
                           expires_at=E if i < n else E + timedelta(days=365),
                           due_shard=due_shard(sid), had_paid=True)
            if status == "stopped":
                app.stop_reason, app.stopped_at = "expired", app.expires_at
            refresh_dues(ctx, app)
            batch.save(app)


def bench(n: int) -> None:
    from chalicelib.api.accounts import account_created, topped_up
    from chalicelib.api.apps import app_created, bought, refunded
    from chalicelib.services import accounts, apps, idempotency, purchases
    from chalicelib.services.context import Ctx
    from chalicelib.services.idempotency import Idem
    from chalicelib.store import tables, uow
    from chalicelib.store.tables import create_tables

    uow.reset_connection()
    tables.configure(host=None, prefix="bench-")
    create_tables()

    now = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    ctx = Ctx(now=now, tz=UTC_TZ)
    accounts.create_account(ctx, "acme", "acme@x.test", "+15550100", idempotency.NONE, account_created)

    measure("top-up (Idempotency-Key)", range(n),
            lambda i: accounts.topup(ctx, "acme", 100_000, "cash", Idem.of(f"t{i}", "operator#topup", {"i": i}),
                                     topped_up))
    ids: list[int] = []
    measure("app creation", range(n),
            lambda i: ids.append(int(apps.create_app(ctx, "acme", f"app{i}", "us", idempotency.NONE,
                                                     app_created)[1]["sdkappid"])))
    measure("purchase 1-month Standard (Idempotency-Key)", ids,
            lambda sid: purchases.purchase(ctx, sid, "standard", 1, None, None,
                                           Idem.of(f"p{sid}", "operator#purchase", {"sid": sid}), bought))
    later = Ctx(now=now + timedelta(days=3), tz=UTC_TZ)
    measure("refund (base package, Idempotency-Key)", ids,
            lambda sid: purchases.refund(later, sid, None, Idem.of(f"r{sid}", "operator#refund", {"sid": sid}),
                                         refunded))
    measure("purchase replayed (same key: stored answer)", ids[:50],
            lambda sid: purchases.purchase(ctx, sid, "standard", 1, None, None,
                                           Idem.of(f"p{sid}", "operator#purchase", {"sid": sid}), bought))

    noise = n  # apps not due: the jobs' request counts must not grow with them
    seed_due_apps("warn", 1_500_000_000, n, "enabled", noise)
    measure_job("job expiry-warnings", "expiry-warnings", datetime(2026, 8, 18, 1, 0, tzinfo=UTC), "warned", n)
    seed_due_apps("stop", 1_600_000_000, n, "enabled", noise)
    # warnings were sent for "warn" apps only; enforcement stops both accounts' due apps at E+24h
    # enforcement stops the due apps of both accounts at E+24h
    measure_job("job expiry-enforcement (stop)", "expiry-enforcement", E + timedelta(hours=24, minutes=5),
                "stopped", 2 * n)
    # 90 days on, those 2n stopped apps and the n apps disabled by the refunds are due
    measure_job("job reclamation", "reclamation", E + timedelta(days=92), "reclaimed", 3 * n)


def bench_settlement(accounts: int) -> None:
    """Monthly settlement of `accounts` accounts with usage (and as many idle ones), in fresh tables."""
    from chalicelib.store import tables, uow
    from chalicelib.store.tables import create_tables
    from tests.integration.test_settlement import RUN, seed

    uow.reset_connection()
    tables.configure(host=None, prefix="bench-settle-")
    create_tables()
    seed(accounts, idle=accounts)
    measure_job("job monthly-settlement (billed accounts)", "monthly-settlement", RUN, "billed", accounts)


def _hot_run(ctx: Any, sids: list[int], per_client: int) -> tuple[list[float], int, float]:
    """One client thread per app, all started at once; answers the latencies, the busy count, the wall time."""
    import threading

    from chalicelib.api.apps import bought
    from chalicelib.domain.errors import Busy
    from chalicelib.services import idempotency, purchases

    latencies: list[float] = []
    busy = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(len(sids) + 1)

    def client(sid: int) -> None:
        barrier.wait()
        for _ in range(per_client):
            t0 = time.perf_counter()
            try:
                purchases.purchase(ctx, sid, "standard", 1, None, None, idempotency.NONE, bought)
                ok = True
            except Busy:
                ok = False
            took = time.perf_counter() - t0
            with lock:
                latencies.append(took)
                busy[0] += not ok

    threads = [threading.Thread(target=client, args=(sid,)) for sid in sids]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return latencies, busy[0], time.perf_counter() - t0


def bench_hot_account(clients: list[int], per_client: int) -> str:
    """C threads buying for apps of one shared account on DynamoDB Local; one row per C."""
    import statistics

    from chalicelib import config
    from chalicelib.api.accounts import account_created, topped_up
    from chalicelib.api.apps import app_created
    from chalicelib.local import ddblocal
    from chalicelib.services import accounts, apps, idempotency
    from chalicelib.services.context import Ctx
    from chalicelib.store import uow
    from chalicelib.store.tables import create_tables

    ctx = Ctx(now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tz=UTC_TZ)
    port = ddblocal.free_port()
    head = (f"{'clients':>7} {'purchases':>9} {'busy 503':>8} {'purchases/s':>11} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'max ms':>7}")
    lines = [f"hot account on DynamoDB Local: C clients x {per_client} purchases, all on one account", "",
             head, "-" * len(head)]
    with ddblocal.running(None, port):
        os.environ.update(IMBILL_DYNAMODB_ENDPOINT=ddblocal.endpoint_url(port), IMBILL_TABLE_PREFIX="bench-hot-")
        config.reset_settings()
        uow.reset_connection()
        create_tables()  # configures the models from the settings
        try:
            for c in clients:
                account_id = f"hot{c}"
                accounts.create_account(ctx, account_id, f"{account_id}@x.test", "+15550100", idempotency.NONE,
                                        account_created)
                accounts.topup(ctx, account_id, 39_900 * c * per_client, "cash", idempotency.NONE, topped_up)
                sids = [int(apps.create_app(ctx, account_id, f"app{i}", "us", idempotency.NONE,
                                            app_created)[1]["sdkappid"]) for i in range(c)]
                latencies, busy, elapsed = _hot_run(ctx, sids, per_client)
                done = len(latencies) - busy
                cuts = statistics.quantiles(latencies, n=100, method="inclusive")
                lines.append(f"{c:7d} {done:9d} {busy:8d} {done / elapsed:11.1f} {cuts[49] * 1000:7.0f} "
                             f"{cuts[98] * 1000:7.0f} {max(latencies) * 1000:7.0f}")
        finally:
            os.environ.pop("IMBILL_DYNAMODB_ENDPOINT")
            os.environ["IMBILL_TABLE_PREFIX"] = "bench-"
            config.reset_settings()
            uow.reset_connection()
    return "\n".join(lines)


def _settle_fanned_out(workers: int) -> int:
    """The settlement planned onto an in-process queue and worked by `workers` threads, each taking
    one message at a time through the Lambda worker's own code (fanout.handle_batch). Answers how
    many messages were processed."""
    import json
    import queue
    import threading

    from chalicelib.jobs import fanout
    from tests.integration.test_settlement import RUN

    work: queue.Queue[dict[str, Any] | None] = queue.Queue()
    pending = [0]
    lock = threading.Lock()
    done = threading.Event()

    def send(message: dict[str, Any]) -> None:
        with lock:
            pending[0] += 1
        work.put(message)

    failed: list[dict[str, Any]] = []

    def worker() -> None:
        while (message := work.get()) is not None:
            record = {"messageId": str(id(message)), "body": json.dumps(message)}
            try:
                answer = fanout.handle_batch([record], UTC_TZ)["batchItemFailures"]
            except BaseException as err:  # noqa: BLE001 - a worker must count its message done
                answer = [{"itemIdentifier": repr(err)}]
            with lock:
                if answer:
                    failed.append(message)
                pending[0] -= 1
                if pending[0] == 0:
                    done.set()

    real_send = fanout.send
    fanout.send = send  # type: ignore[assignment]
    try:
        planned = fanout.plan("monthly-settlement", RUN, UTC_TZ)  # the shards' messages, before any worker
        if "fanned_out" not in planned:
            raise SystemExit(f"the run stayed inline: {planned}")
        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for t in threads:
            t.start()
        done.wait()  # a page sends its next page before it counts itself done: 0 pending is the end
        if failed:
            raise SystemExit(f"{len(failed)} messages failed, e.g. {failed[0]}")
        for _ in threads:
            work.put(None)
        for t in threads:
            t.join()
    finally:
        fanout.send = real_send  # type: ignore[method-assign]
    return int(planned["fanned_out"])


def bench_fanout(accounts: int, shapes: list[int]) -> str:
    """Settle `accounts` billed accounts on DynamoDB Local in each shape: 0 inline, n fanned out
    to n worker threads (default inline, 1, 4, 8), each shape on a fresh in-memory DynamoDB Local
    process (one that has held several table sets slows down: every shape starts equal) seeded the
    same way; accounts/s, requests per account and the 1-min load average before and after each."""
    from chalicelib import config
    from chalicelib.jobs import runner
    from chalicelib.local import ddblocal
    from chalicelib.store import uow
    from chalicelib.store.tables import create_tables
    from chalicelib.store.usage_models import BillModel
    from tests.integration.requests import count_requests
    from tests.integration.test_settlement import RUN, seed

    head = (f"{'shape':24} {'accounts':>8} {'seconds':>8} {'accounts/s':>10} {'req/account':>11} {'load':>9}"
            "  requests")
    lines = [f"monthly settlement on DynamoDB Local (in memory, a fresh process per shape, this machine: "
             f"{os.cpu_count()} cores), {accounts} billed accounts (and as many idle), "
             f"IMBILL_DUE_SHARDS={config.settings().due_shards}, IMBILL_JOBS_PAGE={config.settings().jobs_page}; "
             "the queue is in-process (SQS not counted); load = 1-min load average before/after",
             "", head, "-" * len(head)]
    try:
        for shape in shapes:
            port = ddblocal.free_port()
            with ddblocal.running(None, port):
                os.environ.update(IMBILL_DYNAMODB_ENDPOINT=ddblocal.endpoint_url(port),
                                  IMBILL_TABLE_PREFIX=f"bench-fan{shape}-",
                                  IMBILL_JOBS_QUEUE_URL="in-process" if shape else "")
                config.reset_settings()
                uow.reset_connection()
                create_tables()
                t0 = time.perf_counter()
                seed(accounts, idle=accounts)
                print(f"seeded {accounts} accounts in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
                load_before = os.getloadavg()[0]
                with count_requests() as counter:
                    t0 = time.perf_counter()
                    if shape:
                        _settle_fanned_out(shape)
                        label = f"fanned out, {shape} worker{'s' if shape > 1 else ''}"
                    else:
                        runner.run_job("monthly-settlement", RUN, UTC_TZ)
                        label = "inline (one invocation)"
                    elapsed = time.perf_counter() - t0
                load_after = os.getloadavg()[0]
                billed = BillModel.count()
                if billed != accounts:
                    raise SystemExit(f"{label}: {billed} bills for {accounts} accounts")
                uow.reset_connection()
            total = sum(counter.calls.values())
            ops = ", ".join(f"{k} {v}" for k, v in sorted(counter.calls.items()))
            lines.append(f"{label:24} {accounts:8d} {elapsed:8.1f} {accounts / elapsed:10.1f} "
                         f"{total / accounts:11.2f} {load_before:4.1f}/{load_after:<4.1f}  {ops}")
            print(lines[-1], file=sys.stderr)
    finally:
        for name in ("IMBILL_DYNAMODB_ENDPOINT", "IMBILL_JOBS_QUEUE_URL"):
            os.environ.pop(name, None)
        os.environ["IMBILL_TABLE_PREFIX"] = "bench-"
        config.reset_settings()
        uow.reset_connection()
    return "\n".join(lines)


def bench_year() -> None:
    """A year of the test clock on DynamoDB Local (a free port, in-memory, fresh tables)."""
    from chalice.test import Client

    from chalicelib import bootstrap
    from chalicelib.clock import StoredClock
    from chalicelib.local import ddblocal
    from chalicelib.store import tables, uow
    from chalicelib.store.tables import create_tables
    from tests.helpers import Api
    from tests.integration.requests import count_requests
    from tests.scenarios.year_data import END, seed_year

    port = ddblocal.free_port()
    endpoint = ddblocal.endpoint_url(port)
    os.environ.update({"IMBILL_DYNAMODB_ENDPOINT": endpoint, "IMBILL_TEST_CLOCK": "1",
                       "IMBILL_TABLE_PREFIX": "bench-year-"})
    bootstrap.reset()
    with ddblocal.running(None, port):
        uow.reset_connection()
        tables.configure(host=endpoint, prefix="bench-year-")
        create_tables()
        import app as app_module

        StoredClock().set(datetime(2025, 1, 1, tzinfo=UTC))
        with Client(app_module.app) as client:
            api = Api(client)
            seed_year(api)
            with count_requests() as counter:
                t0 = time.perf_counter()
                moved = api.ok("PUT", "/v1/test/clock", {"now": END})
                elapsed = time.perf_counter() - t0
    ROWS.append((f"test clock: a year on DynamoDB Local ({len(moved['jobs_run'])} runs acted)",
                 len(moved["jobs_run"]) + moved["idle_runs"], counter.calls, elapsed))
    print(f"year on DynamoDB Local: {counter.total} requests, {elapsed:.1f} s, {len(moved['jobs_run'])} runs acted, "
          f"{moved['idle_runs']} idle", file=sys.stderr)


def report(n: int) -> str:
    lines = [f"imbill bench on moto in-process, N={n} (requests counted per item; totals by operation)", ""]
    head = f"{'operation':46} {'items':>6} {'req/item':>9} {'items/s':>9}  requests"
    lines += [head, "-" * len(head)]
    for label, count, calls, elapsed in ROWS:
        total = sum(calls.values())
        ops = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
        lines.append(f"{label:46} {count:6d} {total / count:9.2f} {count / elapsed:9.1f}  {ops}")
    return "\n".join(lines)


def cold_start(repeat: int = 5) -> str:
    """`import app` against the bare import of its libraries, and the first purchase of a fresh
    process (before: one botocore session per model, as PynamoDB does; after: one shared), each in
    a fresh interpreter, the store a moto server in this process so that moto is not in the child's."""
    import json
    import statistics
    import subprocess

    from moto.server import ThreadedMotoServer

    from chalicelib import config
    from chalicelib.local.ddblocal import free_port
    from chalicelib.store.tables import create_tables

    child = str(ROOT / "scripts" / "cold_start_child.py")
    import compileall

    # The libraries' bytecode was written when pip installed them, and the zip carries chalicelib's
    # (infra/package.py precompiles it); with PYTHONDONTWRITEBYTECODE set, each child would otherwise
    # compile chalicelib from source, a cost neither the libraries nor Lambda pay (timestamp .pyc here:
    # an edited source is compiled again).
    compileall.compile_dir(ROOT / "chalicelib", quiet=2)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "IMBILL_DYNAMODB_ENDPOINT"}
    env.update(AWS_ENDPOINT_URL=url, IMBILL_TABLE_PREFIX="cold-", AWS_LAMBDA_FUNCTION_NAME="imbill-cold")

    def run(*args: str) -> dict[str, float]:
        out = subprocess.run([sys.executable, child, *args], capture_output=True, text=True, env=env, check=True)
        data: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
        return data

    try:
        libs, apps = [], []
        for _ in range(repeat):  # interleaved: the load of a shared machine weighs on both alike
            libs.append(run("libs"))
            apps.append(run("app"))
        rows = {}
        for label, flag in (("per-model sessions (before)", "--per-model-connections"), ("one shared session", "")):
            samples = []
            for i in range(3):
                env["IMBILL_TABLE_PREFIX"] = f"cold{i}{len(flag)}-"
                os.environ.update(IMBILL_DYNAMODB_ENDPOINT=url, IMBILL_TABLE_PREFIX=env["IMBILL_TABLE_PREFIX"])
                config.reset_settings()
                create_tables()
                samples.append(run("purchase", *([flag] if flag else [])))
            rows[label] = samples
    finally:
        os.environ.pop("IMBILL_DYNAMODB_ENDPOINT", None)
        config.reset_settings()
        server.stop()
    med = statistics.median
    lib_s, app_s = med(r["import_s"] for r in libs), med(r["import_s"] for r in apps)
    lib_cpu, app_cpu = med(r["import_cpu_s"] for r in libs), med(r["import_cpu_s"] for r in apps)
    lib_rss, app_rss = med(r["peak_rss_mib"] for r in libs), med(r["peak_rss_mib"] for r in apps)
    lines = ["", "cold start (fresh interpreter each; medians)",
             f"  bare import of the libraries  {lib_s * 1000:7.0f} ms   peak RSS {lib_rss:5.0f} MiB",
             f"  import app                    {app_s * 1000:7.0f} ms   peak RSS {app_rss:5.0f} MiB"
             f"   ratio {app_s / lib_s:.2f} (goal <= 1.3)",
             f"  CPU: libraries {lib_cpu * 1000:5.0f} ms, import app {app_cpu * 1000:5.0f} ms"
             f"   ratio {app_cpu / lib_cpu:.2f}"]
    for label, samples in rows.items():
        lines.append(f"  first purchase, {label:27} {med(r['first_purchase_s'] for r in samples) * 1000:6.0f} ms"
                     f" (CPU {med(r['first_purchase_cpu_s'] for r in samples) * 1000:5.0f} ms)"
                     f"   peak RSS {med(r['peak_rss_mib'] for r in samples):5.0f} MiB (goal < 80)")
    return "\n".join(lines)


def outbox_requests(n: int) -> tuple[Counter[str], Counter[str]]:
    """DynamoDB requests of n top-ups with the outbox, then of n more with the events switched off
    (UnitOfWork.emit a no-op): the outbox adds an item to each transaction, never a request."""
    from unittest import mock

    from chalicelib.api.accounts import topped_up
    from chalicelib.services import accounts, idempotency
    from chalicelib.services.context import Ctx
    from chalicelib.store.unit_of_work import UnitOfWork
    from tests.integration.requests import count_requests

    ctx = Ctx(now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tz=UTC_TZ)
    with count_requests() as with_events:
        for _ in range(n):
            accounts.topup(ctx, "acme", 100, "cash", idempotency.NONE, topped_up)
    with mock.patch.object(UnitOfWork, "emit", lambda self, event: None), count_requests() as without:
        for _ in range(n):
            accounts.topup(ctx, "acme", 100, "cash", idempotency.NONE, topped_up)
    return with_events.calls, without.calls


def bench_events(n: int) -> str:
    """Events: requests per transaction with and without the outbox (must be equal), and events/s
    through the publisher (the events stream's handler: webhook fan-out to one endpoint + one
    queue message each + EventBridge PutEvents in batches of 10), with its DynamoDB requests per event."""
    import boto3

    from chalicelib import bootstrap, config
    from chalicelib.api.accounts import account_created
    from chalicelib.clock import StoredClock
    from chalicelib.services import accounts, event_feed, idempotency, webhooks
    from chalicelib.services.context import Ctx, Principal
    from chalicelib.store import tables, uow
    from chalicelib.store.models import EventModel
    from chalicelib.store.tables import create_tables
    from tests.integration.requests import count_requests

    uow.reset_connection()
    tables.configure(host=None, prefix="bench-")
    create_tables()
    bootstrap.reset()
    StoredClock().set(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
    ctx = Ctx(now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tz=UTC_TZ, principal=Principal("operator", sub="bench"))
    accounts.create_account(ctx, "acme", "acme@x.test", "+15550100", idempotency.NONE, account_created)
    webhooks.create(ctx, "acme", "http://127.0.0.1:9/hook", ["*"], idempotency.NONE, lambda w: (201, {}))
    with_events, without = outbox_requests(n)
    if with_events != without:
        raise SystemExit(f"the outbox added requests: {dict(with_events)} vs {dict(without)}")

    boto3.client("events", region_name="us-east-1").create_event_bus(Name="imbill-bench")
    queue = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="bench-webhooks")["QueueUrl"]
    os.environ.update({"IMBILL_EVENT_BUS": "imbill-bench", "IMBILL_WEBHOOKS_QUEUE_URL": queue})
    config.reset_settings()
    records = [{"eventName": "INSERT", "dynamodb": {"NewImage": e.serialize()}}
               for e in sorted(EventModel.scan(), key=lambda e: e.event_id)]
    with count_requests() as fed:
        t0 = time.perf_counter()
        out = event_feed.on_records(records)
        elapsed = time.perf_counter() - t0
    os.environ.pop("IMBILL_EVENT_BUS")
    os.environ.pop("IMBILL_WEBHOOKS_QUEUE_URL")
    config.reset_settings()
    per_tx = sum(with_events.values()) / n
    return (f"events: {n} top-ups, {per_tx:.2f} DynamoDB requests per transaction with the outbox and "
            f"{sum(without.values()) / n:.2f} without (no extra request; one more item in each)\n"
            f"event publisher: {out['events']} events -> {out['deliveries']} deliveries + EventBridge, "
            f"{out['events'] / elapsed:.0f} events/s on moto, {fed.total / out['events']:.2f} DynamoDB requests "
            f"per event ({dict(fed.calls)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="items per operation / due apps per job (default 100)")
    parser.add_argument("--settle", type=int, default=2000, help="accounts billed by the settlement run")
    parser.add_argument("--cold-only", action="store_true", help="only the cold-start measurements")
    parser.add_argument("--hot-clients", default="1,8,32", help="client counts of the hot-account section")
    parser.add_argument("--hot-purchases", type=int, default=25, help="purchases per client (hot account)")
    parser.add_argument("--hot-only", action="store_true", help="run only the hot-account section")
    parser.add_argument("--year", action="store_true", help="also a year of the test clock on DynamoDB Local")
    parser.add_argument("--only-year", action="store_true", help="only the year of the test clock")
    parser.add_argument("--fanout-only", action="store_true",
                        help="only the settlement inline and fanned out on DynamoDB Local")
    parser.add_argument("--fanout-accounts", type=int, default=10_000, help="billed accounts (fan-out section)")
    parser.add_argument("--fanout-workers", default="0,1,4,8",
                        help="shapes of the fan-out section: 0 inline, n fanned out to n worker threads")
    parser.add_argument("--events-only", action="store_true", help="only the events section (outbox, publisher)")
    args = parser.parse_args()
    if args.events_only:
        from tests import moto_speed

        moto_speed.install()  # as the tests run moto: faster answers, the same ones
        with mock_aws():
            print(bench_events(args.n))
        return 0
    if args.fanout_only:
        print(bench_fanout(args.fanout_accounts, [int(w) for w in args.fanout_workers.split(",")]))
        return 0
    if args.only_year:
        bench_year()
        print(report(args.n))
        return 0
    if args.cold_only:
        print(cold_start())
        return 0
    hot = bench_hot_account([int(c) for c in args.hot_clients.split(",")], args.hot_purchases)
    if args.hot_only:
        print(hot)
        return 0
    from tests.integration.moto_patches import snapshot_touched_items_only

    # moto deep-copies whole tables per transaction item; the patch copies only touched items, so
    # throughput reflects our code path rather than moto's O(table size) rollback copies
    with snapshot_touched_items_only():
        with mock_aws():
            bench(args.n)
        with mock_aws():
            bench_settlement(args.settle)
    if args.year:
        bench_year()
    print(report(args.n))
    print()
    print(hot)
    print(cold_start())
    return 0


if __name__ == "__main__":
    sys.exit(main())
