"""Deploy smoke test, no AWS: build the package, lint its template, run the zip as Lambda would.

`make test-deploy` (part of `make test`) runs it; the plain pytest run skips it unless
IMBILL_TEST_DEPLOY=1 (it builds the artefact: about a minute). The artefact is unzipped into a
clean virtualenv that has only boto3 (what the Lambda runtime has) and imported with no secret in
the environment; one route and every scheduled handler are invoked against a moto server, which
the harness reaches through AWS_ENDPOINT_URL (so the zip itself never contains moto)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGE = "dev"
DIST = ROOT / "dist" / STAGE
WORK = ROOT / "build" / "smoke"
TEST_ONLY = ("moto", "pytest", "hypothesis", "jwt", "typer", "chalice/cli", "botocore", "boto3")

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(os.environ.get("IMBILL_TEST_DEPLOY") != "1",
                       reason="set IMBILL_TEST_DEPLOY=1 (make test-deploy)"),
]


@pytest.fixture(scope="module")
def package() -> Path:
    subprocess.run([sys.executable, str(ROOT / "infra" / "package.py"), "--stage", STAGE], check=True, cwd=ROOT)
    return DIST


@pytest.fixture(scope="module")
def template(package: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((package / "template.json").read_text())
    return data


@pytest.fixture(scope="module")
def lambda_python(package: Path) -> Iterator[tuple[Path, Path]]:
    """A virtualenv with only boto3 (the version this environment pins) and the unzipped artefact."""
    env_dir, task = WORK / "venv", WORK / "task"
    if not (env_dir / "bin" / "python").exists():
        venv.create(env_dir, with_pip=True, clear=True)
        subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", f"boto3=={metadata.version('boto3')}"], check=True)
    subprocess.run(["rm", "-rf", str(task)], check=True)
    with zipfile.ZipFile(package / "deployment.zip") as z:
        z.extractall(task)
    yield env_dir / "bin" / "python", task


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    import boto3
    from moto.server import ThreadedMotoServer

    from chalicelib import config
    from chalicelib.local.ddblocal import free_port
    from chalicelib.store import uow
    from chalicelib.store.tables import create_tables

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("IMBILL_DYNAMODB_ENDPOINT", "IMBILL_TABLE_PREFIX", "IMBILL_NOTIFY")}
    os.environ.update({"IMBILL_DYNAMODB_ENDPOINT": url, "IMBILL_TABLE_PREFIX": f"imbill-{STAGE}-",
                       "IMBILL_NOTIFY": "local"})
    config.reset_settings()
    try:
        create_tables()
        boto3.client("ssm", endpoint_url=url).put_parameter(
            Name=f"/imbill/{STAGE}/auth-secret", Value="s" * 48, Type="SecureString")
        boto3.client("ses", endpoint_url=url).verify_email_identity(EmailAddress="billing@imbill.example.com")
        yield url
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        config.reset_settings()
        uow.reset_connection()
        server.stop()


def test_template_lints_clean(template: dict[str, Any], package: Path) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    run = subprocess.run([str(cfn_lint), "--format", "parseable", str(package / "template.json")],
                         capture_output=True, text=True)
    assert run.stdout.strip() == "" and run.returncode == 0, run.stdout + run.stderr  # 0 errors, 0 warnings


def test_template_has_tables_functions_alarms_and_gateway_responses(template: dict[str, Any]) -> None:
    from infra.tables import load_schemas

    res = template["Resources"]
    tables = {r["Properties"]["TableName"] for r in res.values() if r["Type"] == "AWS::DynamoDB::Table"}
    assert tables == {f"imbill-{STAGE}-{n}" for n in load_schemas()}
    functions = [k for k, r in res.items() if r["Type"] == "AWS::Serverless::Function"]
    assert all(f"{f}LogGroup" in res and f"{f}ErrorsAlarm" in res for f in functions)
    assert "Api5xxAlarm" in res and "JobsDeadLetterAlarm" in res
    queue = res["JobsQueue"]["Properties"]
    assert queue["QueueName"] == f"imbill-{STAGE}-jobs" and queue["RedrivePolicy"]["maxReceiveCount"] >= 1
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}
    worker = res["JobsWorker"]["Properties"]
    (source,) = worker["Events"].values()
    assert source["Type"] == "SQS" and source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue["VisibilityTimeout"] >= worker["Timeout"]
    assert worker["Environment"]["Variables"]["IMBILL_JOBS_QUEUE_URL"] == {"Ref": "JobsQueue"}
    responses = res["RestAPI"]["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    for kind in ("MISSING_AUTHENTICATION_TOKEN", "UNAUTHORIZED", "THROTTLED", "REQUEST_TOO_LARGE", "DEFAULT_5XX"):
        body = json.loads(responses[kind]["responseTemplates"]["application/json"])
        assert set(body["error"]) == {"code", "message"}
    for f in functions:
        role = res[res[f]["Properties"]["Role"]["Fn::GetAtt"][0]]
        assert role["Properties"]["Policies"][0]["PolicyDocument"] == json.loads(
            (ROOT / ".chalice" / f"policy-{STAGE}.json").read_text())


def test_template_maps_every_stream_table_to_the_stream_handler(template: dict[str, Any]) -> None:
    from infra.policy import policy, stream_tables
    from infra.tables import logical_id

    res = template["Resources"]
    assert res["StreamHandler"]["Properties"]["Handler"] == "app.views_from_streams"
    mappings = {r["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: r["Properties"] for r in res.values()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"}
    assert sorted(mappings) == sorted(logical_id(n) for n in stream_tables()) and len(mappings) == 4
    for table, props in mappings.items():
        view = "NEW_IMAGE" if table == "EventsTable" else "NEW_AND_OLD_IMAGES"  # events: written once
        assert res[table]["Properties"]["StreamSpecification"] == {"StreamViewType": view}
        assert props["EventSourceArn"] == {"Fn::GetAtt": [table, "StreamArn"]}
        assert props["FunctionName"] == {"Ref": "StreamHandler"} and props["StartingPosition"] == "TRIM_HORIZON"
        assert props["BisectBatchOnFunctionError"] is True and props["MaximumRetryAttempts"] >= 1
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}
    streams = next(s for s in policy(STAGE)["Statement"] if s["Sid"] == "Streams")
    assert streams["Resource"] == [f"arn:aws:dynamodb:*:*:table/imbill-{STAGE}-{n}/stream/*" for n in stream_tables()]
    assert res["StreamHandlerIteratorAgeAlarm"]["Properties"]["MetricName"] == "IteratorAge"


def test_zip_carries_runtime_dependencies_only(package: Path) -> None:
    with zipfile.ZipFile(package / "deployment.zip") as z:
        names = z.namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert {"app.py", "chalicelib", "pydantic", "pydantic_core", "pynamodb", "aws_lambda_powertools"} <= tops
    assert not [n for n in names if n.startswith(TEST_ONLY)], "test-only or runtime-provided code in the zip"
    assert any(n.startswith("pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu") for n in names)


def test_artefact_runs_like_lambda(template: dict[str, Any], lambda_python: tuple[Path, Path],
                                   moto_endpoint: str) -> None:
    python, task = lambda_python
    res = template["Resources"]
    handlers = [r["Properties"]["Handler"].split(".", 1)[1] for r in res.values()
                if r["Type"] == "AWS::Serverless::Function"
                and any(e["Type"] == "Schedule" for e in r["Properties"].get("Events", {}).values())]
    stream_handler = res["StreamHandler"]["Properties"]["Handler"].split(".", 1)[1]
    fn_env = res["APIHandler"]["Properties"]["Environment"]["Variables"]
    env = {"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": "smoke", "AWS_SECRET_ACCESS_KEY": "smoke",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_endpoint,
           "AWS_LAMBDA_FUNCTION_NAME": "imbill-dev", "LAMBDA_TASK_ROOT": str(task), **fn_env}
    run = subprocess.run([str(python), "-I", str(ROOT / "tests" / "deploy" / "lambda_harness.py"), str(task),
                          stream_handler, *handlers], capture_output=True, text=True, env=env, cwd=task, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    result = json.loads(next(line for line in lines if line.startswith("SMOKE-RESULT "))[len("SMOKE-RESULT "):])
    print(json.dumps({k: v for k, v in result.items() if k != "jobs"}))
    assert result["app_file"].startswith(str(task)) and not result["modules_moto"]
    assert result["route"]["status"] == 201 and result["route"]["body"]["account_id"] == "smoke"
    assert result["bad_token"]["status"] == 401 and result["bad_token"]["body"]["error"]["code"] == "unauthorized"
    stream = result["stream"]  # the views change: the account is listed, the purchase is revenue, once
    assert stream["before"] == {"prepaid_sales": 0, "accounts": []}, stream
    assert stream["answer"] == {"accounts": 1, "ledger": 1} and stream["again"] == {"ledger": 1}, stream
    assert stream["after"] == {"prepaid_sales": 700, "accounts": ["smoke"]}, stream
    assert sorted(result["jobs"]) == sorted(handlers) and len(handlers) == 7
    for answer in result["jobs"].values():
        assert isinstance(answer["summary"], dict), answer
    logs = [json.loads(line) for line in lines if line.startswith("{")]
    job_lines = [entry for entry in logs if entry.get("job") and "summary" in entry]
    assert len(job_lines) == len(handlers), "every job run logs its summary as JSON"
    assert any(entry.get("_aws", {}).get("CloudWatchMetrics") for entry in logs), "EMF metrics written"
