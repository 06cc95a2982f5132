"""One fresh process of the cold-start benchmark (scripts/bench.py --cold): not a test.

    python scripts/cold_start_child.py libs|app|purchase [--per-model-connections]

`libs` imports the libraries app.py stands on, `app` imports app.py, `purchase` imports app.py and
then creates an account, tops it up, creates an app and buys one month of Standard against the
endpoint in AWS_ENDPOINT_URL (a moto server run by the parent, so moto is not in this process).
Prints one JSON line: seconds (wall and CPU) of the measured step and the peak RSS in MiB."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# the third-party modules `import app` loads in Lambda (AWS_LAMBDA_FUNCTION_NAME set: JSON logger)
LIBS = ("chalice", "pynamodb.models", "pynamodb.attributes", "pynamodb.indexes", "pynamodb.transactions",
        "pynamodb.connection", "pydantic", "pydantic_settings", "aws_lambda_powertools.logging", "zoneinfo")


def peak_rss_mib() -> float:
    """VmHWM of this process (ru_maxrss would carry the parent's high-water mark across fork+exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    what = sys.argv[1]
    wall, cpu = time.perf_counter(), time.process_time()
    if what == "libs":
        import importlib

        for name in LIBS:
            importlib.import_module(name)
    else:
        import app  # noqa: F401
    out = {"import_s": time.perf_counter() - wall, "import_cpu_s": time.process_time() - cpu}
    if what == "purchase":
        from datetime import UTC, datetime
        from zoneinfo import ZoneInfo

        from chalicelib.api.accounts import account_created, topped_up
        from chalicelib.api.apps import app_created, bought
        from chalicelib.services import accounts, apps, purchases
        from chalicelib.services.idempotency import NONE, Idem
        from chalicelib.store.dynamodb import models
        from tests.composed import make_ctx

        if "--per-model-connections" in sys.argv:  # PynamoDB's default: a session and client per model
            from pynamodb.models import Model

            models._Base._get_connection = classmethod(Model._get_connection.__func__)  # type: ignore[attr-defined]
        ctx = make_ctx(now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tz=ZoneInfo("UTC"))
        wall, cpu = time.perf_counter(), time.process_time()
        accounts.create_account(ctx, "cold", "cold@x.test", "+15550100", NONE, account_created)
        accounts.topup(ctx, "cold", 100_000, "cash", Idem.of("t", "operator#topup", {}), topped_up)
        sid = int(apps.create_app(ctx, "cold", "first", "us", NONE, app_created)[1]["sdkappid"])
        purchases.purchase(ctx, sid, "standard", 1, None, None, Idem.of("p", "operator#purchase", {}), bought)
        out.update(first_purchase_s=time.perf_counter() - wall, first_purchase_cpu_s=time.process_time() - cpu)
    out["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
