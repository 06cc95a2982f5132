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
UV = Path(sys.executable).parent / "uv"  # the project's venv has uv when `make` built it (the Makefile installs it)
TEST_ONLY = ("moto", "pytest", "hypothesis", "jwt", "typer", "chalice/cli", "botocore", "boto3")

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(os.environ.get("IMBILL_TEST_DEPLOY") != "1",
                       reason="set IMBILL_TEST_DEPLOY=1 (make test-deploy)"),
]


def make_venv(env_dir: Path, *requirements: str, pip: bool = False) -> None:
    """A fresh virtualenv of this Python with `requirements` installed: with uv when the project's
    venv has it (seconds, from uv's cache), else with venv + pip (20-30 s each). `pip=True`: the
    virtualenv has pip too."""
    if UV.exists():
        subprocess.run([str(UV), "venv", "-q", "--clear", "--python", sys.executable, *(["--seed"] if pip else []),
                        str(env_dir)], check=True)
        if requirements:
            subprocess.run([str(UV), "pip", "install", "-q", "--python", str(env_dir / "bin" / "python"),
                            *requirements], check=True)
        return
    venv.create(env_dir, with_pip=True, clear=True)
    if requirements:
        subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", *requirements], check=True)


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
        make_venv(env_dir, f"boto3=={metadata.version('boto3')}")
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
    from chalicelib.store.dynamodb import plumbing
    from chalicelib.store.dynamodb.tables import create_tables

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
        plumbing.reset_connection()
        server.stop()


def test_template_lints_clean(template: dict[str, Any], package: Path) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    run = subprocess.run([str(cfn_lint), "--format", "parseable", str(package / "template.json")],
                         capture_output=True, text=True)
    assert run.stdout.strip() == "" and run.returncode == 0, run.stdout + run.stderr  # 0 errors, 0 warnings


def test_template_has_tables_functions_alarms_and_gateway_responses(template: dict[str, Any]) -> None:
    from infra.tables import load_schemas

    res = template["Resources"]
    tables = {r["Properties"]["TableName"]["Fn::Sub"] for r in res.values() if r["Type"] == "AWS::DynamoDB::Table"}
    assert tables == {f"${{TablePrefix}}{n}" for n in load_schemas()}
    assert template["Parameters"]["TablePrefix"]["Default"] == f"imbill-{STAGE}-"
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
    from infra.policy import policy

    roles = [res[f]["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions]
    # the API, 8 job planners, the jobs worker, the stream handler, the webhook deliverer
    assert len(set(roles)) == len(functions) == 12, "one role per function"
    for f, role in zip(functions, roles, strict=True):
        assert res[role]["Properties"]["Policies"] == [
            {"PolicyName": f"{f}Policy", "PolicyDocument": policy(STAGE, f, template=True)}]


def prod_template() -> dict[str, Any]:
    """The prod template from the same Chalice output (the stage settings and names are merge()'s)."""
    from infra.package import merge

    sam = json.loads((ROOT / "build" / STAGE / "chalice-out" / "sam.json").read_text())
    return merge(sam, "prod")


def test_no_written_out_partition_and_every_stage_lints_clean(template: dict[str, Any], package: Path,
                                                                tmp_path: Path) -> None:
    """`arn:aws:` would break in the China and GovCloud partitions: every ARN is built with
    ${AWS::Partition}; prod lints as clean as dev (cfn-lint: 0 errors, 0 warnings)."""
    assert "arn:aws:" not in (package / "template.json").read_text()
    prod = tmp_path / "prod.json"
    prod.write_text(json.dumps(prod_template(), indent=1))
    assert "arn:aws:" not in prod.read_text()
    run = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(prod)],
                         capture_output=True, text=True)
    assert run.stdout.strip() == "" and run.returncode == 0, run.stdout + run.stderr


def test_prod_differs_where_it_should(template: dict[str, Any]) -> None:
    prod = prod_template()
    dev_res, prod_res = template["Resources"], prod["Resources"]
    days = {name: {r["Properties"]["RetentionInDays"] for r in res.values() if r["Type"] == "AWS::Logs::LogGroup"}
            for name, res in (("dev", dev_res), ("prod", prod_res))}
    assert days == {"dev": {14}, "prod": {90}}
    assert template["Parameters"]["WorkerConcurrency"]["Default"] < prod["Parameters"]["WorkerConcurrency"]["Default"]
    assert dev_res["JobsWorker"]["Properties"]["ReservedConcurrentExecutions"]["Fn::If"][0] == "HasWorkerConcurrency"
    tables = {name: {r["DeletionPolicy"] for r in res.values() if r["Type"] == "AWS::DynamoDB::Table"}
              for name, res in (("dev", dev_res), ("prod", prod_res))}
    assert tables == {"dev": {"Delete"}, "prod": {"Retain"}}
    alarms = {name: {k for k, r in res.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
              for name, res in (("dev", dev_res), ("prod", prod_res))}
    assert alarms["dev"] < alarms["prod"] and {"ApiLatencyAlarm", "Api4xxAlarm", "JobsWorkerThrottlesAlarm"} <= (
        alarms["prod"] - alarms["dev"])
    throttle = [r["Properties"]["MethodSettings"][0] for r in (dev_res["RestAPI"], prod_res["RestAPI"])]
    assert throttle[0]["ThrottlingRateLimit"] < throttle[1]["ThrottlingRateLimit"]


def test_template_is_operable(template: dict[str, Any]) -> None:
    """Throttling, JSON access logs, X-Ray on the API and every function, a dashboard, the parameters a
    deploy chooses, and an optional custom domain."""
    res = template["Resources"]
    api = res["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True and api["MethodSettings"][0]["ThrottlingBurstLimit"] > 0
    assert json.loads(api["AccessLogSetting"]["Format"])["request_id"] == "$context.requestId"
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    functions = [r["Properties"] for r in res.values() if r["Type"] == "AWS::Serverless::Function"]
    assert {f["Tracing"] for f in functions} == {"Active"}
    for f in functions:
        assert f["Environment"]["Variables"]["IMBILL_EMAIL_FROM"] == {"Ref": "SenderEmail"}
        assert f["Environment"]["Variables"]["IMBILL_TABLE_PREFIX"] == {"Ref": "TablePrefix"}
    assert {"SenderEmail", "SmsSenderId", "AlarmEmail", "DomainName", "CertificateArn", "TablePrefix",
            "WorkerConcurrency"} <= set(template["Parameters"])
    assert "Default" not in template["Parameters"]["SenderEmail"], "no example domain: the deploy must choose"
    body = json.loads(res["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
    assert len(body["widgets"]) >= 6
    assert res["ApiDomain"]["Condition"] == res["ApiDomainMapping"]["Condition"] == "HasDomain"
    assert res["AlarmSubscription"]["Condition"] == "HasAlarmEmail"


def test_template_deploys_through_the_documented_commands_with_a_bucket(package: Path, tmp_path: Path) -> None:
    """The template is over CloudFormation's 51,200 bytes for an inline template and under the
    1,000,000 of one in S3: the documented deploy (infra/deploy.py, `make deploy`) goes through the
    bucket. Its AWS CLI commands run here against moto (S3 and CloudFormation): `package` uploads the
    zip and rewrites CodeUri, `deploy --s3-bucket` uploads the template and creates the change set;
    without the bucket the CLI refuses the template for its size."""
    import shutil

    from moto.server import ThreadedMotoServer

    from chalicelib.local.ddblocal import free_port
    from infra.deploy import INLINE_LIMIT, S3_LIMIT, commands

    size = len((package / "template.json").read_bytes())
    assert INLINE_LIMIT < size < S3_LIMIT, size
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI is not installed: the size rule above is what it would apply")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://localhost:{port}"  # moto finds the template's bucket in a localhost URL's path
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "smoke",
           "AWS_SECRET_ACCESS_KEY": "smoke", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        import boto3

        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="smoke",
                          aws_secret_access_key="smoke")
        s3.create_bucket(Bucket="smoke-artefacts")
        package_cmd, deploy_cmd = commands(STAGE, "smoke-artefacts", ["SenderEmail=billing@example.com"],
                                           dist=package.parent)
        inline = [c for c in deploy_cmd if c not in ("--s3-bucket", "smoke-artefacts")]
        for cmd in (package_cmd, [*deploy_cmd, "--no-execute-changeset"]):
            run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            assert run.returncode == 0, (cmd, run.stdout[-2000:], run.stderr[-2000:])
        packaged = json.loads((package / "packaged.json").read_text())
        code = {r["Properties"]["CodeUri"] for r in packaged["Resources"].values()
                if r["Type"] == "AWS::Serverless::Function"}
        (uri,) = code
        assert uri.startswith("s3://smoke-artefacts/imbill-dev/")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="smoke-artefacts")["Contents"]]
        assert uri.split("/", 3)[3] in keys and any(k.endswith(".template") for k in keys)
        cfn = boto3.client("cloudformation", endpoint_url=url, region_name="us-east-1", aws_access_key_id="smoke",
                           aws_secret_access_key="smoke")
        (change_set,) = cfn.list_change_sets(StackName=f"imbill-{STAGE}")["Summaries"]
        assert change_set["Status"] == "CREATE_COMPLETE"
        refused = subprocess.run([*inline, "--no-execute-changeset"], env=env, capture_output=True, text=True,
                                 timeout=600)
        assert refused.returncode != 0 and "51,200 bytes" in refused.stderr + refused.stdout
    finally:
        server.stop()


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
    streams = next(s for s in policy(STAGE, "StreamHandler", template=True)["Statement"] if s["Sid"] == "Streams")
    assert streams["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:"
                                               f"table/${{TablePrefix}}{n}/stream/*"} for n in stream_tables()]
    assert res["StreamHandler"]["Properties"]["Role"] == {"Fn::GetAtt": ["StreamHandlerRole", "Arn"]}
    assert res["StreamHandlerIteratorAgeAlarm"]["Properties"]["MetricName"] == "IteratorAge"


def test_zip_carries_runtime_dependencies_only(package: Path) -> None:
    with zipfile.ZipFile(package / "deployment.zip") as z:
        names = z.namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert {"app.py", "chalicelib", "pydantic", "pydantic_core", "pynamodb", "aws_lambda_powertools"} <= tops
    assert not [n for n in names if n.startswith(TEST_ONLY)], "test-only or runtime-provided code in the zip"
    assert any(n.startswith("pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu") for n in names)


PARAMETERS = {"SenderEmail": "billing@imbill.example.com", "SmsSenderId": "IMBILL"}


def resolve(value: Any, template: dict[str, Any]) -> str:
    """An environment value of the template with the parameters (their defaults, or PARAMETERS) in."""
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        if name in template["Resources"]:  # a queue's Ref is its URL (the API sends a delivery's retry to one)
            queue = template["Resources"][name]["Properties"]["QueueName"]
            return f"https://sqs.us-east-1.amazonaws.com/123456789012/{queue}"
        return PARAMETERS.get(name) or str(template["Parameters"][name].get("Default", ""))
    return str(value)


def test_artefact_runs_like_lambda(template: dict[str, Any], lambda_python: tuple[Path, Path],
                                   moto_endpoint: str, tmp_path: Path) -> None:
    """Each handler runs with only its own function's policy: any other AWS action is refused
    (AccessDenied) and reported by the harness."""
    from infra.policy import allowed_actions

    python, task = lambda_python
    res = template["Resources"]
    functions = {k: r for k, r in res.items() if r["Type"] == "AWS::Serverless::Function"}
    handlers = [r["Properties"]["Handler"].split(".", 1)[1] for r in functions.values()
                if any(e["Type"] == "Schedule" for e in r["Properties"].get("Events", {}).values())]
    stream_handler = res["StreamHandler"]["Properties"]["Handler"].split(".", 1)[1]
    allowed = tmp_path / "allowed.json"
    allowed.write_text(json.dumps({r["Properties"]["Handler"].split(".", 1)[1]: sorted(allowed_actions(STAGE, k))
                                   for k, r in functions.items()}))
    fn_env = {k: resolve(v, template) for k, v in res["APIHandler"]["Properties"]["Environment"]["Variables"].items()}
    env = {"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": "smoke", "AWS_SECRET_ACCESS_KEY": "smoke",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_endpoint, "SMOKE_ALLOWED": str(allowed),
           "AWS_LAMBDA_FUNCTION_NAME": "imbill-dev", "LAMBDA_TASK_ROOT": str(task), **fn_env}
    run = subprocess.run([str(python), "-I", str(ROOT / "tests" / "deploy" / "lambda_harness.py"), str(task),
                          stream_handler, *handlers], capture_output=True, text=True, env=env, cwd=task, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    result = json.loads(next(line for line in lines if line.startswith("SMOKE-RESULT "))[len("SMOKE-RESULT "):])
    print(json.dumps({k: v for k, v in result.items() if k != "jobs"}))
    assert result["denied"] == [], "a handler performed an action outside its function's policy"
    assert {"app", stream_handler, "jobs_worker", *handlers} <= set(result["called"]), result["called"]
    assert result["app_file"].startswith(str(task)) and not result["modules_moto"]
    assert result["health"]["status"] == 200 and result["health"]["body"]["stage"] == STAGE
    assert len(result["health"]["request_id"]) > 8
    assert result["worker"] == {"batchItemFailures": []}
    staged = result["staged"]  # the console and the reference under the stage path /api/: every asset loads
    assert {"/api/console", "/api/console/static/app.js", "/api/console/static/console.css", "/api/docs",
            "/api/docs/redoc.standalone.js", "/api/v1/openapi.json"} <= set(staged), staged
    assert set(staged.values()) == {200}, staged
    assert result["route"]["status"] == 201 and result["route"]["body"]["account_id"] == "smoke"
    assert result["bad_token"]["status"] == 401 and result["bad_token"]["body"]["error"]["code"] == "unauthorized"
    stream = result["stream"]  # the views change: the account is listed, the purchase is revenue, once
    assert stream["before"] == {"prepaid_sales": 0, "accounts": []}, stream
    assert stream["answer"] == {"accounts": 1, "ledger": 1} and stream["again"] == {"ledger": 1}, stream
    assert stream["after"] == {"prepaid_sales": 700, "accounts": ["smoke"]}, stream
    assert sorted(result["jobs"]) == sorted(handlers) and len(handlers) == 8  # every job, renewal-batches too
    for answer in result["jobs"].values():
        assert isinstance(answer["summary"], dict), answer
    logs = [json.loads(line) for line in lines if line.startswith("{")]
    job_lines = [entry for entry in logs if entry.get("job") and "summary" in entry]
    assert len(job_lines) == len(handlers) + 1, "every job run (and the worker's page) logs its summary as JSON"
    assert any(entry.get("_aws", {}).get("CloudWatchMetrics") for entry in logs), "EMF metrics written"


def test_a_plain_pip_install_serves(tmp_path: Path) -> None:
    """`pip install .` (not editable) into a fresh virtualenv gives an `imbill serve --in-memory` that
    answers /v1/health, /docs and the console: everything it reads is package data (no
    .chalice/config.json, no file of the checkout). The virtualenv is kept between runs (its
    dependencies are installed once per pyproject.toml); the project is reinstalled each time."""
    import hashlib
    import shutil
    import urllib.request

    from chalicelib.local import ddblocal
    from tests.serving import stop_process, wait_until_serving

    if not ddblocal.java_available():
        pytest.skip("java is not installed: DynamoDB Local cannot run")
    env_dir = WORK / "installed-venv"
    python = env_dir / "bin" / "python"
    stamp = env_dir / ".deps"
    deps = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    source = tmp_path / "src"  # a copy: the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".local", "build", "dist", ".git", "tests",
                                                                 "*.egg-info", "__pycache__", ".pytest_cache"))
    if not python.exists() or not stamp.exists() or stamp.read_text() != deps:
        # the dependencies (and a first copy of the project) installed once, by uv if it is there
        make_venv(env_dir, str(source), pip=True)
        stamp.write_text(deps)
    # pip itself builds and installs the project, not editable, every run
    subprocess.run([*pip, "--no-deps", "--force-reinstall", str(source)], check=True)
    site = subprocess.run([str(python), "-c", "import chalicelib, app; print(chalicelib.__file__, app.__file__)"],
                          capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    assert all(path.startswith(str(env_dir)) for path in site), site  # the installed copy, not the checkout
    run_dir = tmp_path / "run"  # the folder a user runs it in: only DynamoDB Local (installed once) beside
    (run_dir / ".local").mkdir(parents=True)
    (run_dir / ".local" / "ddb").symlink_to(ddblocal.DEFAULT_ROOT)
    port = ddblocal.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMBILL_", "AWS_"))}
    proc = subprocess.Popen([str(env_dir / "bin" / "imbill"), "serve", "--in-memory", "--port", str(port)],
                            cwd=run_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, f"{url}/v1/health", lambda: proc.stdout.read() if proc.stdout else "")
        with urllib.request.urlopen(f"{url}/v1/health", timeout=30) as r:
            health = json.loads(r.read())
            assert r.status == 200 and r.headers["X-Request-Id"]
        assert health == {"status": "ok", "version": "0.1.0", "stage": "local"}
        for path in ("/docs", "/docs/redoc.standalone.js", "/console", "/v1/openapi.json"):
            with urllib.request.urlopen(url + path, timeout=30) as r:
                assert r.status == 200, path
    finally:
        stop_process(proc)
