"""The OpenAPI document and the server agree (issue 7, item 8): schemathesis drives a running
`imbill serve` (DynamoDB Local, free ports) with requests generated from /v1/openapi.json, a bounded
and seeded number per operation, and fails on any 5xx and on any response the document does not
describe (undocumented status, wrong content type, body not matching its schema).

Runs in the DynamoDB Local pass of `make test` (marker `ddblocal`). The two test-clock moves are
left out: a generated `now` thousands of years ahead would run every job at each scheduled instant
in between (test_errors.py drives them with odd bodies instead).

Three passes per operation: valid requests with generated path parameters (mostly unknown ids:
404; a few examples where the next pass pins the ids), valid requests on a seeded account and app,
and invalid requests. A valid request may still
be refused with a 400 where a rule depends on state or on the clock (an opaque next_token that no
page issued, an `at` in the future, a voucher expiring in the past, an add-on tier of another
add-on: STATE_RULES); any other 400 to a request the document calls valid is a disagreement and
fails the test (schemathesis' own `positive_data_acceptance` cannot tell the two apart)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving import stop_process, wait_until_serving

pytestmark = [pytest.mark.ddblocal, pytest.mark.heavy]

EXAMPLES = 10  # per operation and generation pass
# valid requests with generated ids of an operation that also has the pinned pass: nearly all 404s
# (unknown ids), so a few suffice; the pinned pass reaches the handlers with these same bodies
UNKNOWN_IDS_EXAMPLES = 5
SEED = 20261129
STATE_RULES = re.compile(
    r"next_token is not valid|lies in the future|later than|ahead of|clock|must lie after now"
    r"|tier '.*' is not one of|is bought one at a time"
    # rules across two parameters (from/to of the revenue, the ledger and the bills): JSON Schema cannot state them
    r"|at most \d+ months at once|spans more than \d+ months|must not be after|must be before|not both"
    # across items (no JSON Schema): the contacts besides the account's own, distinct ids, the voucher's item
    r"|at most \d+ contacts besides|each contact_id at most once|voucher_item must be an index"
    r"|may be at most \d+ days apart"  # the events' day feed: from/to of at most 92 days
)
SKIPPED = {("PUT", "/v1/test/clock"), ("POST", "/v1/test/clock/advance")}
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from chalicelib.config import auth_secret

    port, ddb_port = _free_port(), _free_port()
    env = {**os.environ, "IMBILL_AUTH_SECRET": auth_secret(), "IMBILL_NOTIFY": "local",
           "IMBILL_TABLE_PREFIX": "st-", "IMBILL_TEST_CLOCK": "1"}
    env.pop("IMBILL_DYNAMODB_ENDPOINT", None)
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from chalicelib.cli import main; main()", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--ddb-port", str(ddb_port), "--data-dir", str(tmp_path_factory.mktemp("ddb"))],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, f"{url}/v1/openapi.json", lambda: Path(log.name).read_text()[-2000:])
        yield url
    finally:
        stop_process(proc)
        log.close()


def _examples(strategy: Any, label: str, server: str, headers: dict[str, str], checks: list[Any],
              failures: list[str], counts: dict[str, int], examples: int = EXAMPLES) -> Any:
    from hypothesis import HealthCheck, Phase, given, seed, settings

    @seed(SEED)
    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(case: Any) -> None:
        counts["examples"] += 1
        response = case.call(base_url=server, headers=headers, timeout=60)
        where = f"{case.method} {case.formatted_path} [{label}] body={str(case.body)[:200]} -> "
        try:
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as err:  # noqa: BLE001 - collected, reported together
            failures.append(f"{where}{response.status_code} {response.text[:300]}: {str(err)[:500]}")
        if label.startswith("positive") and response.status_code == 400:
            message = response.json()["error"]["message"]
            if not STATE_RULES.search(message):
                failures.append(f"{where}400 {message!r}: valid per the document, refused")

    return run


def test_every_operation_answers_as_the_document_says(server: str) -> None:
    import schemathesis
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    from chalicelib.api.auth import mint_token

    token = mint_token("operator")
    # a world for the generated bodies to act on: an account with money and an app
    _request(f"{server}/v1/accounts", "POST", {"account_id": "acme", "email": "a@x.test", "phone": "+15550100"},
             token)
    _request(f"{server}/v1/accounts/acme/topups", "POST", {"amount": "100000.00", "kind": "cash"}, token)
    app = _request(f"{server}/v1/accounts/acme/apps", "POST", {"name": "chat", "region": "us"}, token)["sdkappid"]

    schema = schemathesis.openapi.from_dict(_request(f"{server}/v1/openapi.json"))
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    headers = {"Authorization": f"Bearer {token}"}
    known = {"account_id": "acme", "sdkappid": app}
    failures: list[str] = []
    counts = {"operations": 0, "examples": 0}

    passes = [(GenerationMode.POSITIVE, False), (GenerationMode.POSITIVE, True), (GenerationMode.NEGATIVE, False)]
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        counts["operations"] += 1
        names = {p.name for p in operation.path_parameters}
        for mode, pinned in passes:
            if pinned and not names & set(known):
                continue
            strategy = operation.as_strategy(
                generation_mode=mode,
                path_parameters={k: v for k, v in known.items() if k in names} if pinned else None,
            )

            ids_unknown = not pinned and mode is GenerationMode.POSITIVE and bool(names & set(known))
            run = _examples(strategy, f"{mode.value}{' pinned' if pinned else ''}", server, headers, checks,
                            failures, counts, UNKNOWN_IDS_EXAMPLES if ids_unknown else EXAMPLES)
            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (e.g. no parameters, no body)
                assert mode is GenerationMode.NEGATIVE
    print(f"\nschemathesis: {counts['operations']} operations, {counts['examples']} examples, "
          f"{len(failures)} failures (seed {SEED})")
    for failure in failures:
        print(failure)
    assert counts["operations"] >= 25
    assert failures == [], "\n".join(failures[:20])
