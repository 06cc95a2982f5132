"""Build the deployable artefact of a stage: ONE CloudFormation (SAM) template and the code zip.

    python infra/package.py --stage dev [--out dist]     # or: make package STAGE=dev

writes ``dist/<stage>/template.json`` and ``dist/<stage>/deployment.zip`` (+ ``requirements.lock``):

1. Runtime dependencies: ``[project] dependencies`` of pyproject.toml (the one source of truth)
   and what they require, pinned to the versions this environment resolved, minus what the Lambda
   runtime provides and what only the operator CLI needs (``[tool.imbill.lambda]``). They are
   installed as manylinux wheels for the Lambda platform into Chalice's ``vendor/``; nothing
   test-only can enter: moto, pytest... are not runtime dependencies.
2. ``chalice package`` of a clean copy of app.py, chalicelib/ and .chalice/ (the stage's policy
   file: autogen_policy is off).
3. Merged into Chalice's template: every table and index (infra/tables.py, from the models), the
   jobs' fan-out queue (its URL in every job function's IMBILL_JOBS_QUEUE_URL; the worker's event
   source reports partial batch failures) and its dead-letter queue, log groups with retention, an
   alarm topic and alarms (job failures, dead-letter queue depth, API 5xx, Lambda errors, the stream
   handler's iterator age), API Gateway responses in the contract's error shape, and the read views'
   stream handler: one event source mapping per table with a stream.
"""

from __future__ import annotations

import argparse
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chalicelib.config import SMS_SENDER_ID, event_bus_name, jobs_queue_name, webhooks_queue_name  # noqa: E402
from infra.policy import FUNCTIONS, dead_letter_queue, policy, stream_tables  # noqa: E402
from infra.tables import load_schemas, logical_id, table_resource  # noqa: E402

PYTHON_VERSION = "3.11"
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
MARKERS = {"python_version": PYTHON_VERSION, "python_full_version": f"{PYTHON_VERSION}.0",
           "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
LOG_RETENTION_DAYS = {"dev": 14, "prod": 90}
# What differs between the stages besides names (infra/README.md "Stages"): how long logs are kept,
# whether the tables outlive the stack, the API's throttling, the worker's reserved concurrency,
# and the alarms only prod has (latency, throttled functions, 4xx storms).
STAGE_SETTINGS: dict[str, dict[str, Any]] = {
    "dev": {"retain_tables": False, "rate": 20, "burst": 40, "worker_concurrency": 2, "prod_alarms": False},
    "prod": {"retain_tables": True, "rate": 200, "burst": 400, "worker_concurrency": 10, "prod_alarms": True},
}
API_LATENCY_P99_MS = 3000  # prod alarm: the API's p99 latency over 5 minutes
ACCESS_LOG_FORMAT = json.dumps({  # API Gateway access log: one JSON object per request (no header, no token)
    "request_id": "$context.requestId", "ip": "$context.identity.sourceIp", "method": "$context.httpMethod",
    "path": "$context.path", "route": "$context.resourcePath", "status": "$context.status",
    "bytes": "$context.responseLength", "ms": "$context.responseLatency", "at": "$context.requestTime",
    "error": "$context.error.message"}, separators=(",", ":"))
JOB_TIMEOUT_S = 900
WORKER_TIMEOUT_S = 120  # one message, a page of IMBILL_JOBS_PAGE = 200 items at ~40 ms: ~8 s
MAX_RECEIVES = 5  # a jobs message delivered this often without success moves to the dead-letter queue
# The read views' stream handler (app.views_from_streams) and its event source mappings, one per
# table whose model sets stream_view_type (infra/policy.py::stream_tables). TRIM_HORIZON: a record
# written before a mapping is (re)created is still applied, and replaying one is harmless
# (apply_records is idempotent); LATEST would silently skip them. A failing batch is halved until
# the bad record is alone, retried STREAM_RETRIES times, then its position goes to the dead-letter
# queue and the shard moves on (the default, retrying for 24 h, would block the shard that long).
STREAM_HANDLER = "app.views_from_streams"
STREAM_BATCH = 100
STREAM_RETRIES = 10
STREAM_TIMEOUT_S = 120
ITERATOR_AGE_ALARM_MS = 60_000  # the views lag by more than a minute
ERROR_TEMPLATE = '{"error": {"code": "%s", "message": "%s"}}'
NO_ROUTE = (404, "not_found", "no route for $context.httpMethod $context.path")
DENIED = (403, "forbidden", "access denied")
THROTTLED = (429, "throttled", "too many requests: retry later")
GATEWAY_RESPONSES = {  # API Gateway's own answers, in the contract's error shape (no token echoed)
    # REST APIs answer an unknown path (and an unknown method) as a missing token: a 404 here
    "MISSING_AUTHENTICATION_TOKEN": NO_ROUTE,
    "RESOURCE_NOT_FOUND": NO_ROUTE,
    "UNAUTHORIZED": (401, "unauthorized", "a valid Authorization: Bearer <JWT> header is required"),
    "ACCESS_DENIED": DENIED,
    "INVALID_API_KEY": DENIED,
    "EXPIRED_TOKEN": (401, "unauthorized", "the token has expired"),
    "INVALID_SIGNATURE": (401, "unauthorized", "invalid request signature"),
    "THROTTLED": THROTTLED,
    "QUOTA_EXCEEDED": THROTTLED,
    "REQUEST_TOO_LARGE": (413, "payload_too_large", "the request body is over the size limit"),
    "BAD_REQUEST_BODY": (400, "invalid_request", "the request body is not valid"),
    "BAD_REQUEST_PARAMETERS": (400, "invalid_request", "the request parameters are not valid"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "unsupported_media_type", "the body must be JSON"),
    "INTEGRATION_TIMEOUT": (504, "timeout", "the request took too long; it may have completed, retry with "
                                            "the same Idempotency-Key"),
    "DEFAULT_4XX": (None, "invalid_request", "the request was refused by the API gateway"),
    "DEFAULT_5XX": (None, "internal_error", "internal error"),
}


# ---------------------------------------------------------------- dependencies
def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _closure(roots: list[str]) -> dict[str, str]:
    """Every distribution `roots` need (markers for the Lambda platform), canonical name -> version."""
    out: dict[str, str] = {}
    todo = list(roots)
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate(MARKERS):
            continue
        name = canonicalize_name(req.name)
        if name in out:
            continue
        dist = metadata.distribution(req.name)
        out[name] = dist.version
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
    return out


def runtime_requirements() -> list[str]:
    """Pinned `name==version` lines of what the zip must carry."""
    project = _pyproject()
    cfg = project["tool"]["imbill"]["lambda"]
    skip = {canonicalize_name(n) for n in cfg["provided_by_runtime"] + cfg["not_in_lambda"]}
    roots = [r for r in project["project"]["dependencies"] if canonicalize_name(Requirement(r).name) not in skip]
    provided = _closure([r for r in project["project"]["dependencies"]
                         if canonicalize_name(Requirement(r).name) in set(map(canonicalize_name,
                                                                                  cfg["provided_by_runtime"]))])
    needed = _closure(roots)
    return sorted(f"{n}=={v}" for n, v in needed.items() if n not in provided)


def install_dependencies(lines: list[str], target: Path, arch: str) -> None:
    lock = target.parent.parent / "requirements.lock"
    lock.write_text("\n".join(lines) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--only-binary=:all:", "--platform", PLATFORMS[arch], "--python-version", PYTHON_VERSION,
         "--implementation", "cp", "--target", str(target), "-r", str(lock)],
        check=True,
    )
    for junk in list(target.rglob("__pycache__")) + list(target.glob("bin")):
        shutil.rmtree(junk, ignore_errors=True)
    precompile(target)


def precompile(folder: Path) -> None:
    """/var/task is read-only: without bytecode in the zip every cold start compiles the code again.
    Unchecked-hash .pyc files (the zip's mtimes do not matter), made by this Python 3.11."""
    import compileall

    compileall.compile_dir(folder, quiet=2, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


# ---------------------------------------------------------------- chalice
def stage_project(build: Path, arch: str) -> Path:
    project = build / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    shutil.copy2(ROOT / "app.py", project / "app.py")
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "cli.py", "local"))
    precompile(project / "chalicelib")
    (project / ".chalice").mkdir()
    for f in (ROOT / ".chalice").glob("*.json"):
        shutil.copy2(f, project / ".chalice" / f.name)
    install_dependencies(runtime_requirements(), project / "vendor", arch)
    return project


def chalice_package(project: Path, stage: str, out: Path) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    # chalice imports the app with the stage's environment (.chalice/config.json) over this one:
    # nothing of the builder's IMBILL_* settings may leak in, and no secret or credential is needed
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMBILL_", "AWS_"))}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run([str(chalice), "package", "--stage", stage, "--template-format", "json", str(out)],
                   cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)
    sam: dict[str, Any] = json.loads((out / "sam.json").read_text())
    return sam


# ---------------------------------------------------------------- the template
def _alarm(description: str, namespace: str, metric: str, dims: dict[str, Any], stat: str = "Sum",
           period: int = 300, threshold: float = 1) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()], "Statistic": stat,
        "Period": period, "EvaluationPeriods": 1, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": "AlarmTopic"}], "OKActions": [{"Ref": "AlarmTopic"}]}}


def _gateway_responses() -> dict[str, Any]:
    out = {}
    for kind, (status, code, message) in GATEWAY_RESPONSES.items():
        entry: dict[str, Any] = {
            "responseTemplates": {"application/json": ERROR_TEMPLATE % (code, message)},
            "responseParameters": {"gatewayresponse.header.Content-Type": "'application/json'"},
        }
        if status is not None:
            entry["statusCode"] = status
        out[kind] = entry
    return out


def add_stream_handler(res: dict[str, Any]) -> None:
    """The stream handler function (the API handler's code and settings, a role of its own) and its mappings."""
    props = {k: v for k, v in res["APIHandler"]["Properties"].items() if k != "Events"}
    res["StreamHandlerRole"] = json.loads(json.dumps(res["ApiHandlerRole"]))
    res["StreamHandler"] = {"Type": "AWS::Serverless::Function",
                            "Properties": {**props, "Handler": STREAM_HANDLER, "Timeout": STREAM_TIMEOUT_S,
                                           "Role": {"Fn::GetAtt": ["StreamHandlerRole", "Arn"]}}}
    for name in stream_tables():
        table = logical_id(name)
        res[f"{table}StreamMapping"] = {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": {"Ref": "StreamHandler"}, "EventSourceArn": {"Fn::GetAtt": [table, "StreamArn"]},
            "StartingPosition": "TRIM_HORIZON", "BatchSize": STREAM_BATCH, "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": STREAM_RETRIES,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}}}}}
    res["StreamHandlerIteratorAgeAlarm"] = _alarm(
        "The read views lag: the stream handler's oldest record is over a minute old (failing or slow batches)",
        "AWS/Lambda", "IteratorAge", {"FunctionName": {"Ref": "StreamHandler"}}, stat="Maximum",
        period=60, threshold=ITERATOR_AGE_ALARM_MS)


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def parameters(stage: str) -> dict[str, Any]:
    """What a deploy chooses (aws cloudformation deploy --parameter-overrides; infra/README.md)."""
    settings = STAGE_SETTINGS[stage]
    return {
        "SenderEmail": {"Type": "String", "AllowedPattern": EMAIL_PATTERN,
                        "Description": "From address of the e-mail notices (IMBILL_EMAIL_FROM): an SES-verified "
                                       "identity of this account and region"},
        "SmsSenderId": {"Type": "String", "Default": "", "AllowedPattern": f"^$|{SMS_SENDER_ID}", "MaxLength": 11,
                        "Description": "SMS sender id (1-11 letters and digits) where the country allows one; "
                                       "empty: none"},
        "AlarmEmail": {"Type": "String", "Default": "", "AllowedPattern": r"^$|" + EMAIL_PATTERN,
                       "Description": "Address subscribed to the alarm topic (confirm the e-mail SNS sends); "
                                      "empty: subscribe later"},
        "DomainName": {"Type": "String", "Default": "",
                       "Description": "Optional custom domain of the API and console (e.g. billing.example.com); "
                                      "empty: the execute-api URL under /api/"},
        "CertificateArn": {"Type": "String", "Default": "",
                           "Description": "ACM certificate of DomainName, in us-east-1 (an edge API); "
                                          "needed with DomainName"},
        "TablePrefix": {"Type": "String", "Default": f"imbill-{stage}-", "AllowedPattern": r"^[a-z][a-z0-9-]{0,40}-$",
                        "Description": "Prefix of the table names; a stack re-created beside retained tables "
                                       "chooses another (e.g. imbill-" + stage + "2-)"},
        "WorkerConcurrency": {"Type": "Number", "Default": settings["worker_concurrency"], "MinValue": 0,
                              "Description": "Reserved concurrency of the jobs worker; 0: none (an account "
                                             "whose concurrency limit is 10 cannot reserve any)"},
        "SetApiGatewayLogsRole": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"],
                                  "Description": "true: this stack sets the account's API Gateway CloudWatch "
                                                 "role (once per account and region; needed by access logs)"},
    }


CONDITIONS = {
    "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
    "HasDomain": {"Fn::And": [{"Fn::Not": [{"Fn::Equals": [{"Ref": "DomainName"}, ""]}]},
                              {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}]},
    "HasWorkerConcurrency": {"Fn::Not": [{"Fn::Equals": [{"Ref": "WorkerConcurrency"}, 0]}]},
    "SetsApiGatewayLogsRole": {"Fn::Equals": [{"Ref": "SetApiGatewayLogsRole"}, "true"]},
}


def _role_policies(res: dict[str, Any], functions: list[str], stage: str) -> None:
    """Each function's role gets that function's own policy (infra/policy.py), ARNs from Fn::Sub."""
    for fn in functions:
        role = res[res[fn]["Properties"]["Role"]["Fn::GetAtt"][0]]
        role["Properties"]["Policies"] = [{"PolicyName": f"{fn}Policy",
                                           "PolicyDocument": policy(stage, fn, template=True)}]


def _api(res: dict[str, Any], stage: str) -> None:
    """Throttling, JSON access logs, metrics and X-Ray on the API's stage; the contract's gateway responses."""
    settings = STAGE_SETTINGS[stage]
    api = res["RestAPI"]["Properties"]
    api["Name"] = {"Fn::Sub": "${AWS::StackName}"}
    api["DefinitionBody"]["x-amazon-apigateway-gateway-responses"] = _gateway_responses()
    api["TracingEnabled"] = True
    api["MethodSettings"] = [{"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True,
                              "ThrottlingRateLimit": settings["rate"], "ThrottlingBurstLimit": settings["burst"]}]
    api["AccessLogSetting"] = {"DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                               "Format": ACCESS_LOG_FORMAT}
    res["ApiAccessLogGroup"] = {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete",
                                "UpdateReplacePolicy": "Delete", "Properties": {
                                    "LogGroupName": {"Fn::Sub": "/aws/apigateway/${AWS::StackName}-access"},
                                    "RetentionInDays": LOG_RETENTION_DAYS.get(stage, 30)}}
    # API Gateway writes logs with one role per account and region: set here on request only
    res["ApiGatewayLogsRole"] = {"Type": "AWS::IAM::Role", "Condition": "SetsApiGatewayLogsRole", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                          "AmazonAPIGatewayPushToCloudWatchLogs"}]}}
    res["ApiGatewayAccount"] = {"Type": "AWS::ApiGateway::Account", "Condition": "SetsApiGatewayLogsRole",
                                "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}}}
    res["ApiDomain"] = {"Type": "AWS::ApiGateway::DomainName", "Condition": "HasDomain", "Properties": {
        "DomainName": {"Ref": "DomainName"}, "CertificateArn": {"Ref": "CertificateArn"},
        "EndpointConfiguration": {"Types": ["EDGE"]}, "SecurityPolicy": "TLS_1_2"}}
    res["ApiDomainMapping"] = {"Type": "AWS::ApiGateway::BasePathMapping", "Condition": "HasDomain",
                               "DependsOn": ["RestAPIapiStage"], "Properties": {
                                   "DomainName": {"Ref": "ApiDomain"}, "RestApiId": {"Ref": "RestAPI"},
                                   "Stage": api["StageName"]}}


def _alarms(res: dict[str, Any], stage: str, functions: list[str]) -> None:
    res["AlarmTopic"] = {"Type": "AWS::SNS::Topic",
                         "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}-alarms"}}}
    res["AlarmSubscription"] = {"Type": "AWS::SNS::Subscription", "Condition": "HasAlarmEmail", "Properties": {
        "TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}}
    api = {"ApiName": {"Fn::Sub": "${AWS::StackName}"}, "Stage": res["RestAPI"]["Properties"]["StageName"]}
    res["Api5xxAlarm"] = _alarm("The API answered 5xx", "AWS/ApiGateway", "5XXError", api)
    if not STAGE_SETTINGS[stage]["prod_alarms"]:
        return
    latency = _alarm(f"The API's p99 latency is over {API_LATENCY_P99_MS} ms", "AWS/ApiGateway", "Latency", api,
                     stat="Maximum", threshold=API_LATENCY_P99_MS)
    props = latency["Properties"]
    del props["Statistic"]
    props["ExtendedStatistic"] = "p99"
    props["EvaluationPeriods"] = props["DatapointsToAlarm"] = 3
    res["ApiLatencyAlarm"] = latency
    res["Api4xxAlarm"] = _alarm("Over 500 4xx answers in 5 minutes (a client in a loop, a probe)",
                                "AWS/ApiGateway", "4XXError", api, threshold=500)
    for fn in functions:
        res[f"{fn}ThrottlesAlarm"] = _alarm(f"{fn}: invocations throttled (concurrency)", "AWS/Lambda",
                                            "Throttles", {"FunctionName": {"Ref": fn}})


def _dashboard(res: dict[str, Any], functions: list[str], jobs: list[str]) -> None:
    """One CloudWatch dashboard: the API, every function, the queues, the jobs' items and the views' lag."""
    def widget(title: str, metrics: list[list[Any]], x: int, y: int, stat: str = "Sum") -> dict[str, Any]:
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": {
            "title": title, "region": "${AWS::Region}", "stat": stat, "period": 300, "view": "timeSeries",
            "metrics": metrics}}

    api = ["ApiName", "${AWS::StackName}", "Stage", "api"]
    lambdas = [["AWS/Lambda", metric, "FunctionName", f"${{{fn}}}"] for fn in functions for metric in ("Errors",)]
    widgets = [
        widget("API requests and errors", [["AWS/ApiGateway", m, *api] for m in ("Count", "4XXError", "5XXError")],
               0, 0),
        widget("API latency p99 (ms)", [["AWS/ApiGateway", "Latency", *api, {"stat": "p99"}]], 12, 0, "p99"),
        widget("Function errors", lambdas, 0, 6),
        widget("Function duration p99 (ms)", [["AWS/Lambda", "Duration", "FunctionName", f"${{{fn}}}"]
                                              for fn in functions], 12, 6, "p99"),
        widget("Jobs queue and dead-letter queue", [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${JobsQueue.QueueName}"],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${JobsDeadLetterQueue.QueueName}"]],
            0, 12, "Maximum"),
        widget("Job items done / failed", [["imbill", m, "service", "imbill", "job", job] for job in jobs
                                           for m in ("JobItemsDone", "JobItemsFailed")], 12, 12),
        widget("Read views lag (ms)", [["AWS/Lambda", "IteratorAge", "FunctionName", "${StreamHandler}"]],
               0, 18, "Maximum"),
        widget("Money moved (cents)", [["imbill", f"{k}Cents", "service", "imbill"]
                                       for k in ("Purchase", "Bill", "Refund")], 12, 18),
    ]
    res["Dashboard"] = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": {"Fn::Sub": "${AWS::StackName}"},
        "DashboardBody": {"Fn::Sub": json.dumps({"widgets": widgets}, separators=(",", ":"))}}}


def merge(sam: dict[str, Any], stage: str) -> dict[str, Any]:
    res: dict[str, Any] = sam["Resources"]
    settings = STAGE_SETTINGS[stage]
    add_stream_handler(res)
    functions = [k for k, v in res.items() if v["Type"] == "AWS::Serverless::Function"]
    unknown = sorted(set(functions) - set(FUNCTIONS))
    if unknown:  # every function needs its own policy (infra/policy.py FUNCTIONS)
        raise SystemExit(f"no policy for the functions {unknown}: add them to infra/policy.py FUNCTIONS")
    events = {k: list(res[k]["Properties"].get("Events", {}).values()) for k in functions}
    jobs = [k for k in functions if any(e["Type"] == "Schedule" for e in events[k])]
    workers = [k for k in functions if any(e["Type"] == "SQS" for e in events[k])]
    sam["Parameters"] = parameters(stage)
    sam["Conditions"] = CONDITIONS
    res["JobsDeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": dead_letter_queue(stage), "MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}}
    res["JobsQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": jobs_queue_name(stage), "VisibilityTimeout": 6 * WORKER_TIMEOUT_S,
        "MessageRetentionPeriod": 345600, "SqsManagedSseEnabled": True,
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]},
                          "maxReceiveCount": MAX_RECEIVES}}}
    _alarms(res, stage, functions)
    res["JobsDeadLetterAlarm"] = _alarm(
        "Work failed for good: a scheduled invocation after Lambda's retries, a jobs queue message after "
        f"{MAX_RECEIVES} receives, or a stream batch (its shard and sequence numbers) is in the dead-letter queue",
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": {"Fn::GetAtt": ["JobsDeadLetterQueue",
                                                                                       "QueueName"]}},
        stat="Maximum")
    _role_policies(res, functions, stage)
    for fn in functions:
        props = res[fn]["Properties"]
        props["Tracing"] = "Active"
        variables = props.setdefault("Environment", {}).setdefault("Variables", {})
        variables.update({"IMBILL_TABLE_PREFIX": {"Ref": "TablePrefix"}, "IMBILL_EMAIL_FROM": {"Ref": "SenderEmail"},
                          "IMBILL_SMS_SENDER_ID": {"Ref": "SmsSenderId"}})
        res[f"{fn}LogGroup"] = {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete",
                                "UpdateReplacePolicy": "Delete", "Properties": {
                                    "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{fn}}}"},
                                    "RetentionInDays": LOG_RETENTION_DAYS.get(stage, 30)}}
        res[f"{fn}ErrorsAlarm"] = _alarm(f"{fn}: an invocation raised (see its log group)", "AWS/Lambda",
                                         "Errors", {"FunctionName": {"Ref": fn}})
        if fn in jobs or fn in workers:
            variables["IMBILL_JOBS_QUEUE_URL"] = {"Ref": "JobsQueue"}
        if fn in workers:
            props["Timeout"] = WORKER_TIMEOUT_S
            props["ReservedConcurrentExecutions"] = {"Fn::If": ["HasWorkerConcurrency", {"Ref": "WorkerConcurrency"},
                                                                {"Ref": "AWS::NoValue"}]}
            for event in events[fn]:  # JobItemsFailed of a page counts under its job's own alarm
                event["Properties"]["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        if fn in jobs:
            job = _job_name(res[fn])
            props["Timeout"] = JOB_TIMEOUT_S
            props["DeadLetterQueue"] = {"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}}
            res[f"{fn}ItemsFailedAlarm"] = _alarm(
                f"job {job}: items failed (they stay due; the next run retries them)", "imbill",
                "JobItemsFailed", {"service": "imbill", "job": job}, period=3600)
    _api(res, stage)
    for name, schema in load_schemas().items():
        table = table_resource(name, schema)
        table["Properties"]["TableName"] = {"Fn::Sub": f"${{TablePrefix}}{name}"}
        if not settings["retain_tables"]:  # a dev stack's tables go with it (prod keeps them: infra/README.md)
            table["DeletionPolicy"] = table["UpdateReplacePolicy"] = "Delete"
        res[logical_id(name)] = table
    _dashboard(res, functions, [_job_name(res[j]) for j in jobs])
    sam["Description"] = f"imbill, stage {stage}: API, scheduled jobs, tables, alarms (infra/package.py)"
    sam["Outputs"]["AlarmTopicArn"] = {"Value": {"Ref": "AlarmTopic"},
                                       "Description": "subscribe the on-call address here"}
    sam["Outputs"]["JobsDeadLetterQueueUrl"] = {"Value": {"Ref": "JobsDeadLetterQueue"}}
    sam["Outputs"]["JobsQueueUrl"] = {"Value": {"Ref": "JobsQueue"}}
    sam["Outputs"]["ConsoleURL"] = {"Value": {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}."
                                                         "${AWS::URLSuffix}/api/console"}}
    sam["Outputs"]["DomainTarget"] = {"Condition": "HasDomain", "Value": {"Fn::GetAtt": ["ApiDomain",
                                                                                          "DistributionDomainName"]},
                                      "Description": "point DomainName here (CNAME or alias)"}
    add_event_delivery(res, stage)
    return sam


# ---------------------------------------------------------------- events: webhooks queue and EventBridge (issue 19)
WEBHOOK_WORKER = "WebhookDeliverer"  # app.py's on_sqs_message(name="webhook_deliverer")
WEBHOOK_WORKER_TIMEOUT_S = 120  # a batch of 10 deliveries at 10 s each at worst


def add_event_delivery(res: dict[str, Any], stage: str) -> None:
    """The webhook deliveries' queue (back-off by message delay; a crashed attempt comes back after the
    visibility timeout) with its dead-letter queue and alarm, the stage's EventBridge bus, and their
    settings on the functions using them (their roles' grants: infra/policy.py STREAMS, WEBHOOKS)."""
    queue = webhooks_queue_name(stage)
    res["WebhooksDeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": f"{queue}-dlq", "MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}}
    res["WebhooksQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": queue, "VisibilityTimeout": 6 * WEBHOOK_WORKER_TIMEOUT_S, "MessageRetentionPeriod": 345600,
        "SqsManagedSseEnabled": True,
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["WebhooksDeadLetterQueue", "Arn"]},
                          "maxReceiveCount": MAX_RECEIVES}}}
    res["WebhooksDeadLetterAlarm"] = _alarm(
        f"A webhook delivery message failed {MAX_RECEIVES} times (the worker raised): see the dead-letter queue",
        "AWS/SQS", "ApproximateNumberOfMessagesVisible",
        {"QueueName": {"Fn::GetAtt": ["WebhooksDeadLetterQueue", "QueueName"]}}, stat="Maximum")
    res["EventBus"] = {"Type": "AWS::Events::EventBus", "Properties": {"Name": event_bus_name(stage)}}
    users = [fn for fn in ("StreamHandler", WEBHOOK_WORKER) if fn in res]
    for fn in users:
        props = res[fn]["Properties"]
        env = props.setdefault("Environment", {}).setdefault("Variables", {})
        env["IMBILL_WEBHOOKS_QUEUE_URL"] = {"Ref": "WebhooksQueue"}
        env["IMBILL_EVENT_BUS"] = event_bus_name(stage)
    if WEBHOOK_WORKER in res:
        res[WEBHOOK_WORKER]["Properties"]["Timeout"] = WEBHOOK_WORKER_TIMEOUT_S


def _job_name(resource: dict[str, Any]) -> str:
    """The job a scheduled function runs: its Chalice handler name app.<job_with_underscores>."""
    return str(resource["Properties"]["Handler"]).split(".", 1)[1].replace("_", "-")


# ---------------------------------------------------------------- main
def build(stage: str, out_root: Path) -> Path:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    if stage not in config["stages"] or stage == "local":
        raise SystemExit(f"unknown deploy stage {stage!r}; one of: "
                         f"{', '.join(s for s in config['stages'] if s != 'local')}")
    arch = config["stages"][stage].get("lambda_architecture", config.get("lambda_architecture", "x86_64"))
    build_dir = ROOT / "build" / stage
    project = stage_project(build_dir, arch)
    sam = chalice_package(project, stage, build_dir / "chalice-out")
    out = out_root / stage
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copy2(build_dir / "chalice-out" / "deployment.zip", out / "deployment.zip")
    shutil.copy2(build_dir / "requirements.lock", out / "requirements.lock")
    (out / "template.json").write_text(json.dumps(merge(sam, stage), indent=1) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    out = build(args.stage, args.out)
    zip_path = out / "deployment.zip"
    with zipfile.ZipFile(zip_path) as z:
        unpacked = sum(i.file_size for i in z.infolist())
    print(f"{out}/template.json, {zip_path.name} {zip_path.stat().st_size / 2**20:.1f} MiB "
          f"({unpacked / 2**20:.1f} MiB unpacked), {len((out / 'requirements.lock').read_text().split())} "
          f"pinned dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
