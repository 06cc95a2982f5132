"""Least privilege: the functions' IAM policy (infra/policy.py, .chalice/policy-<stage>.json) allows
every AWS action the code performs and no service the code never calls.

tests/aws_actions.py records every action the code performs in the whole test run and fails the
run on one the policy does not allow; this module drives one flow that reaches every service
(DynamoDB, SES, SNS, SSM) and checks both directions on what it recorded."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib import config
from chalicelib.jobs import runner
from chalicelib.services import event_feed
from infra import policy
from tests import aws_actions
from tests.integration.test_event_bus import stream_records
from tests.integration.test_jobs import seed

WARN_AT = datetime(2026, 8, 18, 1, 0, tzinfo=UTC)
# used by the Lambda service with the function's role, not by the code: log delivery, and the jobs'
# dead-letter queue (infra/package.py)
USED_BY_LAMBDA = {"logs", "sqs"}


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


def test_every_service_allowed_is_called_and_every_call_is_allowed(store, ddb_endpoint, monkeypatch, api):
    if ddb_endpoint is not None:
        pytest.skip("SES, SNS and SSM are moto's")
    import boto3

    from chalicelib.api import auth

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=policy.secret_param("dev"), Value="k" * 40, Type="SecureString")
    monkeypatch.setenv("IMBILL_AUTH_SECRET_PARAM", policy.secret_param("dev"))
    config.reset_settings()
    with aws_actions.recording() as recorded:
        token = auth.mint_token("operator")  # the secret read from SSM
        assert auth.decode(token, "k" * 40, time.time())["role"] == "operator"
        api.ok("POST", "/v1/accounts", {"account_id": "pol", "email": "p@x.test", "phone": "+15550100"})
        seed(1, 1)
        assert runner.run_job("expiry-warnings", WARN_AT, ZoneInfo("UTC"))["summary"]["warned"] == 1  # SES + SNS
        boto3.client("events", region_name="us-east-1").create_event_bus(Name="imbill-dev")
        monkeypatch.setenv("IMBILL_EVENT_BUS", "imbill-dev")
        config.reset_settings()
        assert event_feed.on_records(stream_records())["events"] > 0  # EventBridge (the events' stream)

    allowed = policy.allowed_actions()
    assert recorded <= allowed, f"not allowed: {sorted(recorded - allowed)}"
    assert services(allowed) - USED_BY_LAMBDA == services(recorded), "the policy allows a service never called"
    assert {"ses:SendEmail", "sns:Publish", "ssm:GetParameter", "dynamodb:TransactWriteItems",
            "dynamodb:PutItem", "events:PutEvents"} <= recorded
