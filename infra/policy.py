"""The functions' IAM policy per stage (least privilege), written to .chalice/policy-<stage>.json.

    python infra/policy.py            # (re)write .chalice/policy-dev.json and policy-prod.json
    python infra/policy.py --check    # exit 1 if a checked-in policy is stale

Exactly: the DynamoDB item actions the code performs on the stage's tables and their indexes, SES
send (e-mail), SNS publish (SMS), reading the stage's auth secret from SSM, writing logs, reading
the streams of the tables that feed the read views (Lambda's event source mappings use the role),
and the stage's jobs queues: the planner and the worker send to the jobs queue
(chalicelib/jobs/fanout.py), Lambda's event source mapping receives, deletes and reads its
attributes with the worker's role, and Lambda sends a scheduled job's failed event (or a failed
stream batch's position) to the dead-letter queue. No table administration (CloudFormation creates
the tables). tests/aws_actions.py fails the test run if the code performs an action not
listed here; tests/integration/test_policy.py fails if a service listed here is never called.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chalicelib.config import jobs_queue_name  # noqa: E402

STAGES = ("dev", "prod")
DYNAMODB_ACTIONS = (
    "BatchGetItem", "BatchWriteItem", "ConditionCheckItem", "GetItem", "PutItem", "Query",
    "TransactGetItems", "TransactWriteItems", "UpdateItem",
)
EMAIL_ACTIONS = ("ses:SendEmail",)
SMS_ACTIONS = ("sns:Publish",)
SECRET_ACTIONS = ("ssm:GetParameter",)
# sending (planner, worker, Lambda to the dead-letter queue) and what the event source mapping does
QUEUE_ACTIONS = ("sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
# Lambda's event source mappings read the streams with the stream handler's role (infra/package.py)
STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                  "dynamodb:ListStreams")
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


def secret_param(stage: str) -> str:
    """The SSM SecureString holding the stage's auth secret (IMBILL_AUTH_SECRET_PARAM)."""
    return f"/imbill/{stage}/auth-secret"


def dead_letter_queue(stage: str) -> str:
    return f"{jobs_queue_name(stage)}-dlq"


def table_names(stage: str) -> list[str]:
    from infra.tables import load_schemas

    return [f"imbill-{stage}-{name}" for name in load_schemas()]


def stream_tables() -> list[str]:
    """Base names of the tables with a stream (their models' Meta.stream_view_type): the views' sources."""
    from infra.tables import load_schemas

    return [name for name, schema in load_schemas().items() if schema.get("stream_view_type")]


def policy(stage: str) -> dict[str, Any]:
    tables = table_names(stage)
    table_arns = [f"arn:aws:dynamodb:*:*:table/{t}" for t in tables]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Logs", "Effect": "Allow", "Action": list(LOG_ACTIONS), "Resource": "arn:aws:logs:*:*:*"},
            {"Sid": "Tables", "Effect": "Allow", "Action": [f"dynamodb:{a}" for a in DYNAMODB_ACTIONS],
             "Resource": table_arns + [f"{arn}/index/*" for arn in table_arns]},
            # SES identities and SMS destinations (phone numbers) are not resources IAM can narrow to
            {"Sid": "Email", "Effect": "Allow", "Action": list(EMAIL_ACTIONS), "Resource": "*"},
            {"Sid": "Sms", "Effect": "Allow", "Action": list(SMS_ACTIONS), "Resource": "*"},
            # the jobs' fan-out queue and its dead-letter queue, where Lambda also sends a scheduled
            # job's failed event with the function's role (infra/package.py)
            {"Sid": "JobsQueues", "Effect": "Allow", "Action": list(QUEUE_ACTIONS),
             "Resource": [f"arn:aws:sqs:*:*:{jobs_queue_name(stage)}", f"arn:aws:sqs:*:*:{dead_letter_queue(stage)}"]},
            {"Sid": "Streams", "Effect": "Allow", "Action": list(STREAM_ACTIONS),
             "Resource": [f"arn:aws:dynamodb:*:*:table/imbill-{stage}-{name}/stream/*" for name in stream_tables()]},
            {"Sid": "AuthSecret", "Effect": "Allow", "Action": list(SECRET_ACTIONS),
             "Resource": f"arn:aws:ssm:*:*:parameter{secret_param(stage)}"},
        ],
    }


# ---------------------------------------------------------------- events: webhooks queue and EventBridge (issue 19)
# Not in .chalice/policy-<stage>.json: infra/package.py attaches these statements as a policy of their own
# (EventDeliveryPolicy) to the roles of the functions that feed and work the deliveries; ARNs via Fn::Sub.
EVENT_BUS_ACTIONS = ("events:PutEvents",)
WEBHOOK_QUEUE_ACTIONS = QUEUE_ACTIONS


def _arn(service: str, resource: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}


def event_delivery_statements(stage: str) -> list[dict[str, Any]]:
    """PutEvents on the stage's bus only; the webhook deliveries' queue and its dead-letter queue."""
    from chalicelib.config import event_bus_name, webhooks_queue_name

    queue = webhooks_queue_name(stage)
    return [
        {"Sid": "EventBus", "Effect": "Allow", "Action": list(EVENT_BUS_ACTIONS),
         "Resource": _arn("events", f"event-bus/{event_bus_name(stage)}")},
        {"Sid": "WebhooksQueues", "Effect": "Allow", "Action": list(WEBHOOK_QUEUE_ACTIONS),
         "Resource": [_arn("sqs", queue), _arn("sqs", f"{queue}-dlq")]},
    ]


def allowed_actions(stage: str = "dev") -> set[str]:
    out: set[str] = set()
    for st in policy(stage)["Statement"] + event_delivery_statements(stage):
        out |= set(st["Action"])
    return out


def path(stage: str) -> Path:
    return ROOT / ".chalice" / f"policy-{stage}.json"


def render(stage: str) -> str:
    return json.dumps(policy(stage), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    stale = [s for s in STAGES if not path(s).exists() or path(s).read_text() != render(s)]
    if "--check" in args:
        for s in stale:
            print(f"{path(s)} is stale: run `python infra/policy.py`", file=sys.stderr)
        return 1 if stale else 0
    for s in STAGES:
        path(s).write_text(render(s))
        print(f"wrote {path(s).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
