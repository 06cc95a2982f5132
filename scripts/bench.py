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
purchase writes the same account item; one row per client count (`--hot-clients 8,32`: both in one
run), with purchases/s, p50/p99 latency, the purchases answered 503 `busy` (the retry budget ran
out; nothing written) and their share, and DynamoDB requests and TransactWriteItems per purchase
made (every request of the run over the purchases that committed). `--hot-only` runs just that.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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


def contexts(tz: ZoneInfo | None = None) -> Any:
    """The composition's context factory (tests/composed.py), imported once the environment is set."""
    from tests.composed import contexts as composed

    return composed(tz)
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
        summary = runner.run_job(job, at, contexts(UTC_TZ))["summary"]
        elapsed = time.perf_counter() - t0
    if summary.get(expect) != n:
        raise SystemExit(f"{job} at {at}: expected {n} {expect}, got {summary}")
    ROWS.append((label, n, counter.calls, elapsed))


def seed_due_apps(account_id: str, base: int, n: int, status: str, noise: int) -> None:
    """n apps expiring at E (due), `noise` more expiring a year later (never due): batch writes."""
    from chalicelib.services.apps import refresh_dues
    from chalicelib.store.dynamodb.models import AccountModel, AppModel, due_shard
    from tests.composed import make_ctx

    ctx = make_ctx(now=E - timedelta(days=40), tz=UTC_TZ)
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
    from chalicelib.services.idempotency import Idem
    from chalicelib.store.dynamodb import plumbing, tables
    from chalicelib.store.dynamodb.tables import create_tables
    from tests.composed import make_ctx

    plumbing.reset_connection()
    tables.configure(host=None, prefix="bench-")
    create_tables()

    now = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    ctx = make_ctx(now=now, tz=UTC_TZ)
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
    later = make_ctx(now=now + timedelta(days=3), tz=UTC_TZ)
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
    from chalicelib.store.dynamodb import plumbing, tables
    from chalicelib.store.dynamodb.tables import create_tables
    from tests.integration.test_settlement import RUN, seed

    plumbing.reset_connection()
    tables.configure(host=None, prefix="bench-settle-")
    create_tables()
    seed(accounts, idle=accounts)
    measure_job("job monthly-settlement (billed accounts)", "monthly-settlement", RUN, "billed", accounts)


def _bought(buy: Callable[[], bool], times: int) -> tuple[list[float], int]:
    """One client's purchases one after another: each one's latency, and how many were busy."""
    latencies, busy = [], 0
    for _ in range(times):
        t0 = time.perf_counter()
        ok = buy()
        latencies.append(time.perf_counter() - t0)
        busy += not ok
    return latencies, busy


def _clients_run(sids: list[int], per_client: int,
                 buyer: Callable[[int], Callable[[], bool]]) -> tuple[list[float], int, float]:
    """One client thread per app, all started at once, each buying `per_client` times with
    `buyer(sid)` (made in its thread; answers False for a 503 busy); answers the latencies, the
    busy count, the wall time."""
    import threading

    latencies: list[float] = []
    busy = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(len(sids) + 1)

    def client(sid: int) -> None:
        buy = buyer(sid)
        barrier.wait()
        took, lost = _bought(buy, per_client)
        with lock:
            latencies.extend(took)
            busy[0] += lost

    threads = [threading.Thread(target=client, args=(sid,)) for sid in sids]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return latencies, busy[0], time.perf_counter() - t0


def _hot_buyer(ctx: Any) -> Callable[[int], Callable[[], bool]]:
    """A client's purchase through the service (False: answered 503 busy)."""
    from chalicelib.api.apps import bought
    from chalicelib.domain.errors import Busy
    from chalicelib.services import idempotency, purchases

    def buyer(sid: int) -> Callable[[], bool]:
        def buy() -> bool:
            try:
                purchases.purchase(ctx, sid, "standard", 1, None, None, idempotency.NONE, bought)
            except Busy:
                return False
            return True
        return buy

    return buyer


def _hot_run(ctx: Any, sids: list[int], per_client: int) -> tuple[list[float], int, float, Counter[str]]:
    """In one process: each client a thread calling the purchase service (`imbill serve`'s shape)."""
    from tests.integration.requests import count_requests

    with count_requests() as seen:
        latencies, busy, elapsed = _clients_run(sids, per_client, _hot_buyer(ctx))
    return latencies, busy, elapsed, seen.calls


def _hot_processes_run(ctx: Any, sids: list[int], per_client: int) -> tuple[list[float], int, float, Counter[str]]:
    """One process per client (forked; each a Lambda instance's shape: one request at a time, no
    in-process turns between them), all started at once."""
    import multiprocessing

    from chalicelib.store.dynamodb import plumbing
    from tests.integration.requests import count_requests

    fork = multiprocessing.get_context("fork")
    ready, results = fork.Queue(), fork.Queue()
    go = fork.Event()

    def client(sid: int) -> None:
        plumbing.reset_connection()  # no socket shared with the parent
        buy = _hot_buyer(ctx)(sid)
        ready.put(sid)
        go.wait()
        with count_requests() as seen:
            latencies, busy = _bought(buy, per_client)
        results.put((latencies, busy, dict(seen.calls)))

    procs = [fork.Process(target=client, args=(sid,)) for sid in sids]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=120)
    t0 = time.perf_counter()
    go.set()
    latencies: list[float] = []
    busy, calls = 0, Counter[str]()
    for _ in procs:
        lat, b, c = results.get(timeout=600)
        latencies += lat
        busy += b
        calls.update(c)
    elapsed = time.perf_counter() - t0
    for proc in procs:
        proc.join()
    return latencies, busy, elapsed, calls


def bench_hot_account(clients: list[int], per_client: int) -> str:
    """C clients buying for apps of one shared account on DynamoDB Local, side by side: as C threads
    of one process (`imbill serve`: a lost race waits its turn at the account, store/gates.py) and
    as C processes of one thread each (Lambda instances: optimistic only, a lost race costs its one
    request and backs off). Per row: purchases/s, latency, the share answered 503 busy, and DynamoDB
    requests per purchase made (all requests of the run, lost attempts included, over the purchases
    that committed)."""
    import statistics

    from chalicelib.api.accounts import account_created, topped_up
    from chalicelib.api.apps import app_created
    from chalicelib.services import accounts, apps, idempotency
    from tests.composed import make_ctx

    ctx = make_ctx(now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tz=UTC_TZ)
    head = (f"{'clients':>7} {'as':>9} {'purchases':>9} {'busy 503':>8} {'busy %':>6} {'purchases/s':>11} "
            f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'req/purchase':>12} {'tx/purchase':>11}")
    lines = [f"hot account on DynamoDB Local: C clients x {per_client} purchases, all on one account", "",
             head, "-" * len(head)]
    with _ddblocal("bench-hot-"):
        for c in clients:
            for shape, run in (("threads", _hot_run), ("processes", _hot_processes_run)):
                account_id = f"hot{c}{shape[0]}"
                accounts.create_account(ctx, account_id, f"{account_id}@x.test", "+15550100", idempotency.NONE,
                                        account_created)
                accounts.topup(ctx, account_id, 39_900 * c * per_client, "cash", idempotency.NONE, topped_up)
                sids = [int(apps.create_app(ctx, account_id, f"app{i}", "us", idempotency.NONE,
                                            app_created)[1]["sdkappid"]) for i in range(c)]
                latencies, busy, elapsed, calls = run(ctx, sids, per_client)
                done = len(latencies) - busy
                cuts = statistics.quantiles(latencies, n=100, method="inclusive")
                lines.append(f"{c:7d} {shape:>9} {done:9d} {busy:8d} {100 * busy / len(latencies):6.1f} "
                             f"{done / elapsed:11.1f} {cuts[49] * 1000:7.0f} {cuts[98] * 1000:7.0f} "
                             f"{max(latencies) * 1000:7.0f} {sum(calls.values()) / max(done, 1):12.2f} "
                             f"{calls['TransactWriteItems'] / max(done, 1):11.2f}")
    return "\n".join(lines)


def bench_batches(sizes: list[int]) -> str:
    """Batch renewals of 1, 10 and 100 items on DynamoDB Local (issue 18): DynamoDB requests and seconds
    of one POST .../renewals (the reservation, then one transaction per item), each in fresh tables."""
    from chalicelib.api.accounts import account_created, topped_up
    from chalicelib.services import accounts, idempotency, renewals
    from chalicelib.services.context import Principal
    from chalicelib.services.idempotency import Idem
    from chalicelib.services.renewals import Item
    from chalicelib.store.dynamodb.models import AppModel, due_shard
    from tests.composed import make_ctx
    from tests.integration.requests import count_requests

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    head = f"{'items':>5} {'requests':>8} {'transactions':>12} {'seconds':>8}"
    lines = ["batch renewal on DynamoDB Local (POST /v1/accounts/{id}/renewals)", "", head, "-" * len(head)]
    for n in sizes:
        with _ddblocal(f"bench-batch{n}-"):
            ctx = make_ctx(now=t0, tz=UTC_TZ)
            accounts.create_account(ctx, "acme", "a@x.test", "+15550100", idempotency.NONE, account_created)
            accounts.topup(ctx, "acme", 39_900 * n, "cash", idempotency.NONE, topped_up)
            sids = [1_400_100_000 + i for i in range(n)]
            with AppModel.batch_write() as batch:
                for sid in sids:
                    batch.save(AppModel(sid, account_id="acme", name=f"a{sid}", region="us",
                                        edition="standard", status="enabled", created_at=t0,
                                        expires_at=datetime(2026, 4, 1, tzinfo=UTC), due_shard=due_shard(sid),
                                        had_paid=True, version=0))
            customer = make_ctx(now=t0 + timedelta(days=10), tz=UTC_TZ, principal=Principal("customer", "acme"))
            with count_requests() as counter:
                started = time.perf_counter()
                renewals.renew(customer, "acme", [Item(sid, "standard", 1) for sid in sids], None, None,
                               Idem.of(f"b{n}", "customer:acme#renewals:acme", {"n": n}),
                               lambda r: (201, {"renewal_id": r.batch.renewal_id}))
                elapsed = time.perf_counter() - started
            lines.append(f"{n:5d} {counter.total:8d} {counter.calls['TransactWriteItems']:12d} {elapsed:8.2f}")
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
                answer = fanout.handle_batch([record], contexts(UTC_TZ))["batchItemFailures"]
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
        planned = fanout.plan("monthly-settlement", RUN, contexts(UTC_TZ))  # the shards' messages, before any worker
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
    from chalicelib.store.dynamodb import plumbing
    from chalicelib.store.dynamodb.tables import create_tables
    from chalicelib.store.dynamodb.usage_models import BillModel
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
                plumbing.reset_connection()
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
                        runner.run_job("monthly-settlement", RUN, contexts(UTC_TZ))
                        label = "inline (one invocation)"
                    elapsed = time.perf_counter() - t0
                load_after = os.getloadavg()[0]
                billed = BillModel.count()
                if billed != accounts:
                    raise SystemExit(f"{label}: {billed} bills for {accounts} accounts")
                plumbing.reset_connection()
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
        plumbing.reset_connection()
    return "\n".join(lines)


@contextmanager
def _ddblocal(prefix: str, **env: str) -> Iterator[str]:
    """A fresh in-memory DynamoDB Local on a free port with the tables made under `prefix` (and
    `env` set); answers its endpoint; the environment restored afterwards."""
    from chalicelib import bootstrap
    from chalicelib.local import ddblocal
    from chalicelib.store.dynamodb import plumbing, tables
    from chalicelib.store.dynamodb.tables import create_tables

    port = ddblocal.free_port()
    endpoint = ddblocal.endpoint_url(port)
    os.environ.update({"IMBILL_DYNAMODB_ENDPOINT": endpoint, "IMBILL_TABLE_PREFIX": prefix, **env})
    bootstrap.reset()
    try:
        with ddblocal.running(None, port):
            plumbing.reset_connection()
            tables.configure(host=endpoint, prefix=prefix)
            create_tables()
            yield endpoint
            plumbing.reset_connection()
    finally:
        os.environ.pop("IMBILL_DYNAMODB_ENDPOINT", None)
        os.environ["IMBILL_TABLE_PREFIX"] = "bench-"
        bootstrap.reset()


@contextmanager
def _year_api(prefix: str) -> Iterator[tuple[Any, str]]:
    """The app in process (chalice.test) on a fresh DynamoDB Local, the test clock on, seeded with
    tests/scenarios/year_data.py; answers the API helper and the endpoint."""
    from chalice.test import Client

    from chalicelib.clock import StoredClock
    from tests.helpers import Api
    from tests.scenarios.year_data import seed_year

    with _ddblocal(prefix, IMBILL_TEST_CLOCK="1") as endpoint:
        import app as app_module

        StoredClock().set(datetime(2025, 1, 1, tzinfo=UTC))
        with Client(app_module.app) as client:
            api = Api(client)
            seed_year(api)
            yield api, endpoint


def bench_year() -> None:
    """A year of the test clock on DynamoDB Local (a free port, in-memory, fresh tables)."""
    from tests.integration.requests import count_requests
    from tests.scenarios.year_data import END

    with _year_api("bench-year-") as (api, _):
        with count_requests() as counter:
            t0 = time.perf_counter()
            moved = api.ok("PUT", "/v1/test/clock", {"now": END})
            elapsed = time.perf_counter() - t0
    ROWS.append((f"test clock: a year on DynamoDB Local ({len(moved['jobs_run'])} runs acted)",
                 len(moved["jobs_run"]) + moved["idle_runs"], counter.calls, elapsed))
    print(f"year on DynamoDB Local: {counter.total} requests, {elapsed:.1f} s, {len(moved['jobs_run'])} runs acted, "
          f"{moved['idle_runs']} idle", file=sys.stderr)


# ---------------------------------------------------------------------------------------- floor (issue 21)
def floor_on_moto() -> list[str]:
    """The jobs' requests per item and a monthly bill's write units (moto in-process, the same seeds
    as tests/integration/test_floor.py), and the size of a purchase's idempotency record."""
    from chalicelib import bootstrap
    from chalicelib.notify import LocalNotifier
    from chalicelib.store.dynamodb import plumbing, tables
    from chalicelib.store.dynamodb.tables import create_tables
    from tests.integration import test_floor, test_settlement
    from tests.integration.capacity import count_write_units, item_size
    from tests.integration.test_floor import PUSH_DAY, seed_accounts

    lines = []

    def fresh(prefix: str) -> None:
        plumbing.reset_connection()
        bootstrap.reset()
        tables.configure(host=None, prefix=prefix)
        create_tables()

    with mock_aws():
        fresh("floor-settle-")
        test_settlement.seed(200, idle=100)
        cost, calls = test_floor.per_item("monthly-settlement", test_settlement.RUN, "billed", 200)
        lines.append(f"  settlement, 200 billed accounts     {cost:5.2f} requests/account  (goal <= 2.0)  {calls}")
    with mock_aws():
        fresh("floor-push-")
        from chalicelib.store.dynamodb.models import AppModel, QuotaChangeMap, due_shard

        seed_accounts(100, expires_at=E + timedelta(days=365), legacy_push_until=PUSH_DAY + timedelta(days=30),
                      push_quota_log=[QuotaChangeMap(at=PUSH_DAY - timedelta(days=1), quota=300)])
        for app in AppModel.scan():
            app.update(actions=[AppModel.push_billing_shard.set(due_shard(int(app.sdkappid)))])
        cost, calls = test_floor.per_item("push-quota-billing", PUSH_DAY + timedelta(days=1, minutes=30), "billed",
                                          100)
        lines.append(f"  daily push bill, 100 accounts       {cost:5.2f} requests/account  (goal <= 1.5)  {calls}")
    with mock_aws():
        fresh("floor-warn-")
        seed_accounts(100)
        cost, calls = test_floor.per_item("expiry-warnings", datetime(2026, 8, 18, 1, 0, tzinfo=UTC), "warned", 100)
        lines.append(f"  expiry warning, 100 apps (100 accounts) {cost:5.2f} requests/app  (goal <= 1.5)  {calls}")
    for label, notifier in (("records-only notifier (local)", LocalNotifier()), ("SES/SNS notifier", None)):
        with mock_aws():
            fresh("floor-wcu-")
            if notifier is not None:
                bootstrap.use(bootstrap.compose(notifier=notifier))
            else:
                import boto3

                ses = boto3.client("ses", region_name="us-east-1")
                ses.verify_email_identity(EmailAddress="billing@imbill.example.com")
                os.environ["IMBILL_NOTIFY"] = "aws"
                bootstrap.reset()
            test_settlement.seed(1)
            from chalicelib.jobs import runner

            with count_write_units() as wcu:
                runner.run_job("monthly-settlement", test_settlement.RUN, contexts(UTC_TZ))
            os.environ["IMBILL_NOTIFY"] = "local"
            bill = {t.removeprefix("floor-wcu-"): u for t, u in wcu.by_table.items()
                    if not t.endswith(("meta", "views"))}
            total = sum(bill.values())
            lines.append(f"  a monthly bill, {label:29} {total:3d} write units = ${total * 1.25:.2f} per million bills "
                         f"(goal <= 10)  {bill}; item sizes (bytes) "
                         f"{ {t.removeprefix('floor-wcu-'): v for t, v in wcu.sizes.items() if 'views' not in t} }")
    with mock_aws():
        fresh("floor-idem-")
        from chalicelib.api.accounts import account_created, topped_up
        from chalicelib.api.apps import app_created, bought
        from chalicelib.services import accounts, apps, idempotency, purchases
        from chalicelib.services.idempotency import Idem
        from chalicelib.store.dynamodb.models import IdempotencyModel
        from tests.composed import make_ctx

        ctx = make_ctx(now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tz=UTC_TZ)
        accounts.create_account(ctx, "acme", "acme@x.test", "+15550100", idempotency.NONE, account_created)
        accounts.topup(ctx, "acme", 100_000, "cash", idempotency.NONE, topped_up)
        sid = int(apps.create_app(ctx, "acme", "a", "us", idempotency.NONE, app_created)[1]["sdkappid"])
        purchases.purchase(ctx, sid, "standard", 1, None, None,
                           Idem.of("k" * 36, f"operator#/v1/apps/{sid}/purchases", {"edition": "standard"}), bought)
        (record,) = IdempotencyModel.scan()
        size = item_size(record.serialize())
        lines.append(f"  idempotency record of a purchase    {size:5d} bytes (goal < 1,024)")
    return lines


def floor_year() -> list[str]:
    """A year of year_data on DynamoDB Local: the move's requests, then the stream poller's."""
    from chalicelib.local.poller import StreamPoller
    from tests.integration.requests import count_requests
    from tests.scenarios.year_data import END

    with _year_api("floor-year-") as (api, endpoint):
        poller = StreamPoller(contexts(UTC_TZ), endpoint)
        while poller.poll_once():  # the seed's records
            pass
        with count_requests() as move:
            api.ok("PUT", "/v1/test/clock", {"now": END})
        streams: Counter[str] = Counter()
        for c in (poller.streams, poller.ddb):
            c.meta.events.register("before-call", lambda event_name, **_: streams.update(
                [event_name.rsplit(".", 1)[-1]]))
        with count_requests() as views:
            while poller.poll_once():
                pass
    return [f"  a year of year_data, the move       {move.total:5d} requests (goal <= 1,000)  {dict(move.calls)}",
            f"  the same year, the stream poller    {views.total:5d} requests (goal <= 1,000)  {dict(views.calls)}"
            f"; stream API {sum(streams.values())} {dict(streams)}"]


def floor_cpu(accounts: int = 300, buys: int = 100) -> list[str]:
    """Python CPU (this process only: DynamoDB Local is its own JVM) per settled account and per
    purchase, on a fresh in-memory DynamoDB Local: the input of docs/capacity.md's model."""
    from chalicelib.api.accounts import account_created, topped_up
    from chalicelib.api.apps import app_created, bought
    from chalicelib.jobs import runner
    from chalicelib.services import accounts as accounts_service
    from chalicelib.services import apps, idempotency, purchases
    from tests.composed import make_ctx
    from tests.integration import test_settlement

    with _ddblocal("floor-cpu-"):
        test_settlement.seed(accounts)
        cpu, wall = time.process_time(), time.perf_counter()
        runner.run_job("monthly-settlement", test_settlement.RUN, contexts(UTC_TZ))
        settle_cpu, settle_wall = time.process_time() - cpu, time.perf_counter() - wall
        ctx = make_ctx(now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tz=UTC_TZ)
        accounts_service.create_account(ctx, "cpu", "c@x.test", "+15550100", idempotency.NONE, account_created)
        accounts_service.topup(ctx, "cpu", 39_900 * buys, "cash", idempotency.NONE, topped_up)
        sids = [int(apps.create_app(ctx, "cpu", f"a{i}", "us", idempotency.NONE, app_created)[1]["sdkappid"])
                for i in range(10)]
        cpu = time.process_time()
        for i in range(buys):
            purchases.purchase(ctx, sids[i % 10], "standard", 1, None, None, idempotency.NONE, bought)
        buy_cpu = time.process_time() - cpu
    per = settle_cpu / accounts * 1000
    return [f"  settlement CPU (Python, full core) {per:6.1f} ms per billed account ({accounts} accounts, "
            f"{accounts / settle_wall:.0f} accounts/s wall on DynamoDB Local); at 256 MB (0.145 vCPU) "
            f"~{per / 0.145:.0f} ms, at 1,769 MB (1 vCPU) ~{per:.0f} ms",
            f"  purchase CPU (Python, full core)   {buy_cpu / buys * 1000:6.1f} ms per purchase"]


def _warm_dynamodb_local(port: int) -> None:
    """Warm DynamoDB Local's JVM (its first transactions load and compile its classes: hundreds of
    ms that are the emulator's, not the service's) with a scratch table of its own, so that the
    serve process's first request measures the service."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
    client.create_table(TableName="bench-warmup", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    for i in range(30):
        key = {"k": {"S": f"w{i}"}}
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": "bench-warmup", "Item": {**key, "v": {"N": "1"}},
                     "ConditionExpression": "attribute_not_exists(k)"}}])
        client.get_item(TableName="bench-warmup", Key=key, ConsistentRead=True)
        client.batch_get_item(RequestItems={"bench-warmup": {"Keys": [key]}})
        client.query(TableName="bench-warmup", KeyConditionExpression="k = :k",
                     ExpressionAttributeValues={":k": {"S": f"w{i}"}})


def _serve(port: int, ddb_port: int) -> tuple[Any, str]:
    """`imbill serve --in-memory` on `port`: the process and its operator token, once it listens."""
    import socket
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("IMBILL_")}
    env["IMBILL_LOG_JSON"] = "0"
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "imbill"), "serve", "--in-memory", "--port", str(port),
                             "--ddb-port", str(ddb_port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    token = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        if "export IMBILL_TOKEN=" in line:
            token = line.split("=", 1)[1].strip()
        if line.startswith("Ctrl-C"):
            break
    import threading

    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, token
        time.sleep(0.1)
    raise SystemExit("imbill serve did not listen")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Http:
    """One keep-alive connection of one client."""

    def __init__(self, port: int, token: str) -> None:
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        import json

        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=self.headers)
        answer = self.conn.getresponse()
        data = answer.read()
        return answer.status, (json.loads(data) if data else {})


def _http_run(port: int, token: str, sids: list[int], per_client: int) -> tuple[list[float], int, float]:
    """Over HTTP: each client its own keep-alive connection."""

    def buyer(sid: int) -> Callable[[], bool]:
        conn = _Http(port, token)
        return lambda: conn.call("POST", f"/v1/apps/{sid}/purchases", {"edition": "standard", "months": 1})[0] != 503

    return _clients_run(sids, per_client, buyer)


def bench_http(clients: list[int], hot_clients: list[int], per_client: int) -> list[str]:
    """Against `imbill serve --in-memory`: the first request of the process against warm ones and
    the server's peak RSS; purchases over HTTP by C clients (each its own account), and by C
    clients on ONE account (the hot account): purchases/s, p50/p99 and the share answered 503 busy."""
    import statistics

    from chalicelib.local.ddblocal import free_port

    port, ddb_port = free_port(), free_port()
    proc, token = _serve(port, ddb_port)
    lines = []
    try:
        _warm_dynamodb_local(ddb_port)
        first = _Http(port, token)
        t0 = time.perf_counter()
        first.call("POST", "/v1/accounts", {"account_id": "first", "email": "f@x.test", "phone": "+15550100"})
        first_ms = (time.perf_counter() - t0) * 1000
        warm = []
        for i in range(20):
            t0 = time.perf_counter()
            first.call("POST", "/v1/accounts", {"account_id": f"warm{i}", "email": "w@x.test", "phone": "+15550100"})
            warm.append((time.perf_counter() - t0) * 1000)
        gets = []
        for _ in range(20):
            t0 = time.perf_counter()
            first.call("GET", "/v1/accounts/first")
            gets.append((time.perf_counter() - t0) * 1000)
        lines.append(f"  first request (POST /v1/accounts; DynamoDB Local's JVM warmed first) {first_ms:6.1f} ms, "
                     f"warm median "
                     f"{statistics.median(warm):5.1f} ms (ratio {first_ms / statistics.median(warm):.1f}); "
                     f"GET p50 {statistics.median(gets):5.1f} ms")
        head = (f"  {'shape':22} {'clients':>7} {'purchases':>9} {'busy %':>7} {'purchases/s':>11} {'p50 ms':>7} "
                f"{'p99 ms':>7}")
        lines += ["", head, "  " + "-" * (len(head) - 2)]
        for hot, counts in ((False, clients), (True, hot_clients)):
            for c in counts:
                setup = _Http(port, token)
                sids = []
                for i in range(c):
                    account = f"hot{c}" if hot else f"own{c}-{i}"
                    if not hot or i == 0:
                        setup.call("POST", "/v1/accounts", {"account_id": account, "email": "h@x.test",
                                                            "phone": "+15550100"})
                        setup.call("POST", f"/v1/accounts/{account}/topups",
                                   {"amount": f"{399 * per_client * (c if hot else 1)}.00", "kind": "cash"})
                    _, app = setup.call("POST", f"/v1/accounts/{account}/apps", {"name": f"a{i}", "region": "us"})
                    sids.append(app["sdkappid"])
                latencies, busy, elapsed = _http_run(port, token, sids, per_client)
                done = len(latencies) - busy
                cuts = statistics.quantiles(latencies, n=100, method="inclusive")
                label = "hot account (one)" if hot else "own account each"
                lines.append(f"  {label:22} {c:7d} {done:9d} {100 * busy / len(latencies):6.1f}% "
                             f"{done / elapsed:11.1f} {cuts[49] * 1000:7.0f} {cuts[98] * 1000:7.0f}")
                print(lines[-1], file=sys.stderr)
        lines.append(f"  peak RSS of the serve process: {_rss_mib(proc.pid):.0f} MiB")
    finally:
        proc.terminate()
        proc.wait(30)
    return lines


def floor(hot_clients: list[int], per_client: int) -> str:
    lines = [f"issue 21 figures (this machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})", "",
             "requests and write units (moto in-process; counts, not times)"]
    lines += floor_on_moto()
    lines += ["", "CPU per item (DynamoDB Local)"]
    lines += floor_cpu()
    lines += ["", "a year of the test clock (DynamoDB Local)"]
    lines += floor_year()
    lines += ["", "over HTTP against imbill serve --in-memory (DynamoDB Local)"]
    lines += bench_http([1, 8, 32], hot_clients, per_client)
    return "\n".join(lines)


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
    from chalicelib.store.dynamodb.tables import create_tables

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
             f"   ratio {app_s / lib_s:.2f} (it makes the DynamoDB client and its model: issue 21)",
             f"  CPU: libraries {lib_cpu * 1000:5.0f} ms, import app {app_cpu * 1000:5.0f} ms"
             f"   ratio {app_cpu / lib_cpu:.2f}"]
    for label, samples in rows.items():
        lines.append(f"  first purchase, {label:27} {med(r['first_purchase_s'] for r in samples) * 1000:6.0f} ms"
                     f" (CPU {med(r['first_purchase_cpu_s'] for r in samples) * 1000:5.0f} ms; with the import"
                     f" {(app_cpu + med(r['first_purchase_cpu_s'] for r in samples)) * 1000:5.0f} ms)"
                     f"   peak RSS {med(r['peak_rss_mib'] for r in samples):5.0f} MiB (goal < 80)")
    return "\n".join(lines)


def outbox_requests(n: int) -> tuple[Counter[str], Counter[str]]:
    """DynamoDB requests of n top-ups with the outbox, then of n more with the events switched off
    (UnitOfWork.emit a no-op): the outbox adds an item to each transaction, never a request."""
    from unittest import mock

    from chalicelib.api.accounts import topped_up
    from chalicelib.services import accounts, idempotency
    from chalicelib.store.port import UnitOfWork
    from tests.composed import make_ctx
    from tests.integration.requests import count_requests

    ctx = make_ctx(now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tz=UTC_TZ)
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
    from chalicelib.services.context import Principal
    from chalicelib.store.dynamodb import plumbing, tables
    from chalicelib.store.dynamodb.models import EventModel
    from chalicelib.store.dynamodb.tables import create_tables
    from tests.composed import make_ctx
    from tests.integration.requests import count_requests

    plumbing.reset_connection()
    tables.configure(host=None, prefix="bench-")
    create_tables()
    bootstrap.reset()
    StoredClock().set(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
    ctx = make_ctx(now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tz=UTC_TZ,
                   principal=Principal("operator", sub="bench"))
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
        out = event_feed.on_records(contexts(), records)
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
    parser.add_argument("--batch-sizes", default="1,10,100", help="items of the batch-renewal section")
    parser.add_argument("--batch-only", action="store_true", help="run only the batch-renewal section")
    parser.add_argument("--year", action="store_true", help="also a year of the test clock on DynamoDB Local")
    parser.add_argument("--only-year", action="store_true", help="only the year of the test clock")
    parser.add_argument("--floor", action="store_true",
                        help="only issue 21's figures: jobs' requests per item, write units per bill, the year "
                             "and its stream poller, HTTP on imbill serve (1/8/32 clients, hot account 8/32)")
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
    if args.floor:
        print(floor([8, 32], args.hot_purchases))
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
    batches = bench_batches([int(n) for n in args.batch_sizes.split(",")])
    if args.batch_only:
        print(batches)
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
    print()
    print(batches)
    print(cold_start())
    return 0


if __name__ == "__main__":
    sys.exit(main())
