"""Runs INSIDE a clean virtualenv that has only boto3 (as the Lambda runtime), from the unzipped
artefact: `python lambda_harness.py <task_root> <stream handler> <job handler>...`. Stdlib and boto3 only (never this
repository's code: what it imports comes from the zip). Prints one JSON object with what it saw.

SMOKE_ALLOWED names a JSON file {handler: [actions]}: while a handler runs, an AWS call outside its
own function's policy is refused as IAM would (AccessDenied), and the refusal is reported."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

TRANSACT_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                         "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
ALLOWED: dict[str, list[str]] = {}
CURRENT: list[str] = []  # the handler running (its function's policy applies)
DENIED: list[dict[str, Any]] = []
CALLED: dict[str, set[str]] = {}


class AccessDenied(Exception):
    pass


def _authorise(event_name: str, params: dict[str, Any] | None = None, **_: Any) -> None:
    """botocore before-parameter-build: the running handler's function may perform this action."""
    if not CURRENT:
        return  # the harness's own set-up and checks
    _, service, operation = event_name.split(".", 2)
    actions = {f"{service}:{operation}"}
    for item in (params or {}).get("TransactItems", []):
        actions.update(f"{service}:{TRANSACT_ITEM_ACTIONS[kind]}" for kind in item)
    handler = CURRENT[-1]
    CALLED.setdefault(handler, set()).update(actions)
    denied = sorted(actions - set(ALLOWED[handler]))
    if denied:
        DENIED.append({"handler": handler, "actions": denied})
        raise AccessDenied(f"{handler} is not allowed {denied}")


def invoke(handler: str, fn: Any, *args: Any) -> Any:
    CURRENT.append(handler)
    try:
        return fn(*args)
    finally:
        CURRENT.pop()


class Context:
    """The bits of Lambda's context object that Chalice and Powertools read."""

    def __init__(self, name: str) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "smoke"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def api_event(method: str, path: str, body: Any, token: str) -> dict[str, Any]:
    return {
        "resource": path, "path": path, "httpMethod": method,
        "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None,
        "requestContext": {"resourcePath": path, "httpMethod": method, "path": f"/api{path}", "stage": "api",
                           "requestId": str(uuid.uuid4()), "identity": {"sourceIp": "127.0.0.1"}},
        "body": json.dumps(body), "isBase64Encoded": False,
    }


def route_of(app: Any, path: str) -> tuple[str, dict[str, str] | None]:
    """The app's route pattern of a concrete path and its parameters, as API Gateway matches them."""
    parts = path.split("/")
    for pattern in app.app.routes:
        names = pattern.split("/")
        if len(names) == len(parts) and all(n == p or n.startswith("{") for n, p in zip(names, parts, strict=True)):
            params = {n[1:-1]: p for n, p in zip(names, parts, strict=True) if n.startswith("{")}
            return pattern, params or None
    return path, None


def staged_assets(app: Any, token: str) -> dict[str, int]:
    """The console and the API reference as API Gateway serves them, under the stage path /api/:
    every URL the pages and their modules name, resolved against the page's own URL, must stay under
    /api/; each is then asked of the handler (which sees the path without the stage). Path -> status."""
    import re
    from urllib.parse import urljoin, urlsplit

    refs = re.compile(r'(?:href|src|spec-url)="([^"#]+)"|(?:import|from)\s*\(?\s*"(\./[^"]+)"')
    seen: dict[str, int] = {}
    todo = ["/api/console", "/api/docs"]
    while todo:
        url = todo.pop()
        path = urlsplit(url).path
        if path in seen:
            continue
        if not path.startswith("/api/"):
            seen[path] = -1  # outside the stage: a deployed console could not load it
            continue
        event = api_event("GET", path[len("/api"):], None, token)
        event["resource"], event["pathParameters"] = route_of(app, path[len("/api"):])
        event["requestContext"]["resourcePath"] = event["resource"]
        answer = invoke("app", app.app, event, Context("imbill-dev"))
        seen[path] = answer["statusCode"]
        kind = answer["headers"].get("Content-Type", "")
        if answer["statusCode"] == 200 and ("html" in kind or "javascript" in kind) and not path.endswith(
                "redoc.standalone.js"):
            for href, module in refs.findall(answer["body"]):
                todo.append(urljoin(url, href or module))
    return seen


def schedule_event(at: datetime) -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/smoke"], "detail": {}}


def insert_record(table: str, key: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB Streams INSERT record of the item at `key`, as Lambda delivers it (NEW_AND_OLD_IMAGES)."""
    import boto3

    image = boto3.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    return {"eventID": uuid.uuid4().hex, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-01-01T00:00:00.000",
            "dynamodb": {"ApproximateCreationDateTime": int(time.time()), "Keys": key, "NewImage": image,
                         "SequenceNumber": str(time.time_ns()), "SizeBytes": 100,
                         "StreamViewType": "NEW_AND_OLD_IMAGES"}}


def views(table: str) -> dict[str, Any]:
    """What the console reads: the revenue counters' prepaid sales and the listed account ids."""
    import boto3

    items = boto3.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {"prepaid_sales": sum(int(i.get("prepaid_sales", {"N": "0"})["N"]) for i in items
                                 if i["pk"]["S"].startswith("revenue#")),
            "accounts": sorted(i["sk"]["S"] for i in items if i["pk"]["S"].startswith("accounts#id#"))}


def stream_smoke(app: Any, handler: str) -> dict[str, Any]:
    """The stream handler on an INSERT of the account made by the route and of a purchase's ledger entry."""
    from chalicelib.store.dynamodb.models import LedgerModel

    prefix = f"imbill-{os.environ['IMBILL_STAGE']}-"
    LedgerModel(account_id="smoke", seq=1, at=datetime(2026, 11, 3, tzinfo=UTC), kind="purchase", cash=-500,
                gift=-200, balance_cash=0, balance_gift=0, ref="smoke-order").save()
    ledger = insert_record(f"{prefix}ledger", {"account_id": {"S": "smoke"}, "seq": {"N": "1"}})
    account = insert_record(f"{prefix}accounts", {"account_id": {"S": "smoke"}})
    before = views(f"{prefix}views")
    event = {"Records": [account, ledger]}
    answer = invoke(handler, getattr(app, handler), event, Context("imbill-dev-streams"))
    again = invoke(handler, getattr(app, handler), {"Records": [ledger]}, Context("imbill-dev-streams"))
    return {"before": before, "answer": answer, "again": again, "after": views(f"{prefix}views")}


def main() -> None:
    task_root, stream_handler, handlers = sys.argv[1], sys.argv[2], sys.argv[3:]
    assert "IMBILL_AUTH_SECRET" not in os.environ, "the smoke test must run without a secret"
    import botocore.handlers

    ALLOWED.update(json.loads(open(os.environ["SMOKE_ALLOWED"]).read()))
    botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _authorise))  # before any client
    sys.path.insert(0, task_root)
    started = time.perf_counter()
    import app  # noqa: PLC0415  (the artefact's app)

    out: dict[str, Any] = {"import_s": round(time.perf_counter() - started, 3),
                           "app_file": app.__file__, "modules_moto": any(m.startswith("moto") for m in sys.modules)}
    import boto3

    from chalicelib.api.auth import encode

    secret = boto3.client("ssm").get_parameter(Name=os.environ["IMBILL_AUTH_SECRET_PARAM"],
                                               WithDecryption=True)["Parameter"]["Value"]
    token = encode({"sub": "smoke-test", "role": "operator", "exp": int(time.time()) + 600}, secret)
    body = {"account_id": "smoke", "email": "smoke@example.com", "phone": "+15550100"}
    started = time.perf_counter()
    answer = invoke("app", app.app, api_event("POST", "/v1/accounts", body, token), Context("imbill-dev"))
    out["route"] = {"status": answer["statusCode"], "body": json.loads(answer["body"]),
                    "first_request_s": round(time.perf_counter() - started, 3)}
    started = time.perf_counter()
    warm = invoke("app", app.app, api_event("POST", "/v1/accounts", {**body, "account_id": "smoke-warm"}, token),
                  Context("imbill-dev"))
    out["route"]["warm_request_s"] = round(time.perf_counter() - started, 3)
    assert warm["statusCode"] == 201, warm
    bad = invoke("app", app.app, api_event("POST", "/v1/accounts", body, "not-a-token"), Context("imbill-dev"))
    health = invoke("app", app.app, api_event("GET", "/v1/health", None, token), Context("imbill-dev"))
    out["health"] = {"status": health["statusCode"], "body": json.loads(health["body"]),
                     "request_id": health["headers"].get("X-Request-Id")}
    out["bad_token"] = {"status": bad["statusCode"], "body": json.loads(bad["body"])}
    out["staged"] = staged_assets(app, token)
    at = datetime.now(UTC).replace(second=0, microsecond=0)
    out["stream"] = stream_smoke(app, stream_handler)
    out["jobs"] = {name: invoke(name, getattr(app, name), schedule_event(at), Context(f"imbill-dev-{name}"))
                   for name in handlers}
    message = {"job": "expiry-warnings", "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "shard": 0}
    record = {"messageId": "smoke-1", "receiptHandle": "r", "body": json.dumps(message), "attributes": {},
              "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
              "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:imbill-dev-jobs"}
    out["worker"] = invoke("jobs_worker", app.jobs_worker, {"Records": [record]}, Context("imbill-dev-worker"))
    out["denied"] = DENIED
    out["called"] = {h: sorted(a) for h, a in CALLED.items()}
    with open("/proc/self/status") as status:  # VmHWM: ru_maxrss would carry the parent's across exec
        out["peak_rss_mib"] = round(int(next(x for x in status if x.startswith("VmHWM:")).split()[1]) / 1024, 1)
    print("SMOKE-RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
