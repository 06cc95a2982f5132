"""Least privilege: the functions' IAM policy (infra/policy.py, .chalice/policy-<stage>.json) allows
every AWS action the code performs and no service the code never calls.

tests/aws_actions.py records every action the code performs in the whole test run and fails the
run on one the policy does not allow; this module drives one flow that reaches every service
(DynamoDB, SES, SNS, SSM) and checks both directions on what it recorded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib import config
from chalicelib.jobs import runner
from infra import policy
from tests import aws_actions
from tests.composed import contexts
from tests.integration.test_jobs import seed

WARN_AT = datetime(2026, 8, 18, 1, 0, tzinfo=UTC)
# used by the Lambda service with the function's role, not by the code: log delivery, and the jobs'
# dead-letter queue (infra/package.py)
USED_BY_LAMBDA = {"logs", "sqs", "xray"}  # sqs: also the planner's fan-out, not reached inline


def services(actions: set[str]) -> set[str]:
    return {a.split(":", 1)[0] for a in actions}


def test_checked_in_policies_are_current() -> None:
    assert policy.main(["--check"]) == 0, "run `python infra/policy.py`"


def test_policy_is_per_stage_and_names_only_that_stages_tables() -> None:
    for stage in policy.STAGES:
        doc = policy.policy(stage)
        tables = next(s for s in doc["Statement"] if s["Sid"] == "Tables")["Resource"]
        assert tables and all(f":table/imbill-{stage}-" in arn for arn in tables)
        assert not any("*" in a for s in doc["Statement"] for a in s["Action"]), "no wildcard actions"


def test_each_function_has_only_the_services_of_its_kind() -> None:
    """The API has no queue nor stream, a planner no secret nor stream, the worker no secret, the
    stream handler no e-mail, SMS nor secret (before: one policy with everything for all 9)."""
    def kinds(function: str) -> set[str]:
        return {s["Sid"] for s in policy.policy("dev", function)["Statement"]}

    assert kinds("APIHandler") == {"Logs", "Traces", "Tables", "Email", "Sms", "AuthSecret"}
    assert kinds("ExpiryWarnings") == {"Logs", "Traces", "Tables", "Email", "Sms", "JobsQueue", "DeadLetterQueue"}
    assert kinds("JobsWorker") == {"Logs", "Traces", "Tables", "Email", "Sms", "JobsQueue"}
    assert kinds("StreamHandler") == {"Logs", "Traces", "Tables", "DeadLetterQueue", "Streams", "EventBus",
                                      "WebhooksQueue"}
    assert kinds("WebhookDeliverer") == {"Logs", "Traces", "Tables", "Email", "Sms", "WebhooksQueue"}
    assert policy.allowed_actions("dev", "ExpiryWarnings") >= {"sqs:SendMessage"}
    assert "sqs:ReceiveMessage" not in policy.allowed_actions("dev", "ExpiryWarnings")
    assert len(policy.FUNCTIONS) == 3 + 1 + len(runner.load_jobs())  # API, streams, worker, webhooks, jobs


def test_every_service_a_function_may_use_is_called_and_every_call_is_allowed(store, ddb_endpoint, monkeypatch,
                                                                             api):
    """The API (the secret, a use case, an operator's job run that notifies) and a job's planner
    (a run that notifies): each calls every service of its own policy, and nothing outside it."""
    if ddb_endpoint is not None:
        pytest.skip("SES, SNS and SSM are moto's")
    import boto3

    from chalicelib.api import auth

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=policy.secret_param("dev"), Value="k" * 40, Type="SecureString")
    monkeypatch.setenv("IMBILL_AUTH_SECRET_PARAM", policy.secret_param("dev"))
    config.reset_settings()
    token = auth.mint_token("operator")
    assert auth.decode(token, "k" * 40, time.time())["role"] == "operator"
    seed(2, 2)
    api.clock("2026-08-19T02:00:00Z")
    config.reset_settings()  # the API reads the secret again (the settings themselves read outside the
    config.settings()  # test client, which patches the environment with the dev stage's during a request)
    with aws_actions.recording_by_function() as recorded:
        api.ok("POST", "/v1/accounts", {"account_id": "pol", "email": "p@x.test", "phone": "+15550100"})
        ran = api.ok("POST", "/v1/jobs/expiry-warnings/runs", {"at": WARN_AT.isoformat()}, expect=200)
        assert ran["summary"]["warned"] == 2  # SES + SNS, from the API
        at = WARN_AT + timedelta(days=1)
        assert runner.run_job("expiry-warnings", at, contexts(ZoneInfo("UTC")))["summary"]["warned"] == 2  # the planner

    for function in ("APIHandler", "ExpiryWarnings"):
        allowed = policy.allowed_actions("dev", function)
        assert recorded[function] <= allowed, f"{function} not allowed: {sorted(recorded[function] - allowed)}"
        assert services(allowed) - USED_BY_LAMBDA == services(recorded[function]), (
            f"{function}'s policy allows a service it never calls")
    assert {"ssm:GetParameter", "dynamodb:TransactWriteItems", "ses:SendEmail", "sns:Publish"} <= recorded["APIHandler"]
