"""The functions' IAM policies: least privilege, one policy per function (infra/package.py gives each
function's role its own), and their union for Chalice (.chalice/policy-<stage>.json).

    python infra/policy.py            # (re)write .chalice/policy-dev.json and policy-prod.json
    python infra/policy.py --check    # exit 1 if a checked-in policy is stale

Each function gets what it does and what Lambda does with its role, no more (FUNCTIONS):

- the API handler: the DynamoDB item actions of the use cases and of an operator's job run
  (POST /v1/jobs/{job}/runs runs a job inline), SES/SNS (notices sent after a commit), the auth
  secret in SSM; no queue, no stream;
- each job planner (one function per job): the item actions its job's steps use, SES/SNS, sending to
  the jobs queue (fan-out) and to the dead-letter queue (Lambda, a failed scheduled event);
- the jobs worker: the item actions, SES/SNS, and what the SQS event source mapping does with its
  role on the jobs queue (receive, delete, attributes) and the re-sent next page;
- the stream handler: reading the three streams (the event source mappings), the item actions of the
  read views, and the dead-letter queue (a failed batch's position);
- the stream handler also feeds the events' stream on: PutEvents on the stage's EventBridge bus only, and
  a message per webhook delivery on the webhooks queue (issue 19);
- the webhook deliverer: the item actions of its deliveries, SES/SNS (an endpoint disabled notifies its
  account), and what the SQS event source mapping does on the webhooks queue (and the re-sent delay).

Every function may write its own log group's streams and X-Ray segments. In the template every ARN
is `Fn::Sub` with ${AWS::Partition}, ${AWS::Region} and ${AWS::AccountId} (no `arn:aws:` literal:
China and GovCloud partitions work) and the tables' names come from the TablePrefix parameter.

tests/aws_actions.py fails the test run if a function performs an action its own policy does not
allow; tests/integration/test_policy.py fails if a policy allows a service its function never calls.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chalicelib.config import event_bus_name, jobs_queue_name, webhooks_queue_name  # noqa: E402

STAGES = ("dev", "prod")
READ = ("BatchGetItem", "GetItem", "Query")
WRITE = ("BatchWriteItem", "ConditionCheckItem", "PutItem", "TransactWriteItems", "UpdateItem")
DYNAMODB_ACTIONS = tuple(sorted(READ + WRITE))
EMAIL_ACTIONS = ("ses:SendEmail",)
SMS_ACTIONS = ("sns:Publish",)
SECRET_ACTIONS = ("ssm:GetParameter",)
SEND = ("sqs:SendMessage",)
PUT_EVENTS = ("events:PutEvents",)
# what Lambda's SQS event source mapping does with the worker's role
CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
QUEUE_ACTIONS = tuple(sorted(set(SEND + CONSUME)))
# Lambda's event source mappings read the streams with the stream handler's role (infra/package.py)
STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                  "dynamodb:ListStreams")
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")  # the log groups are the template's
TRACE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")  # Tracing: Active


@dataclass(frozen=True)
class Grants:
    """What one function's role allows (besides its logs and traces)."""

    items: tuple[str, ...] = DYNAMODB_ACTIONS  # DynamoDB item actions on the stage's tables
    notify: bool = False  # ses:SendEmail, sns:Publish
    secret: bool = False  # the auth secret (ssm:GetParameter)
    queue: tuple[str, ...] = ()  # actions on the jobs queue
    dead_letter: bool = False  # sqs:SendMessage to the dead-letter queue (Lambda, with the role)
    streams: bool = False  # the stream tables' streams (the event source mappings)
    event_bus: bool = False  # events:PutEvents on the stage's bus (imbill-<stage>)
    webhooks_queue: tuple[str, ...] = ()  # actions on the webhook deliveries' queue


API = Grants(notify=True, secret=True)
PLANNER = Grants(notify=True, queue=SEND, dead_letter=True)
WORKER = Grants(notify=True, queue=QUEUE_ACTIONS)
# chalicelib/readmodels/streams.py: reads the changed items again (BatchGetItem per record batch),
# puts/deletes list entries in batches, adds the batch's revenue in one transaction with its guards;
# ... and the events' stream: the endpoints of an account (Query), a delivery per endpoint (a conditional put
# in a transaction, GetItem when it exists), PutEvents, a queue message per delivery (services/event_feed.py)
STREAMS = Grants(items=("BatchGetItem", "BatchWriteItem", "GetItem", "PutItem", "Query", "TransactWriteItems",
                        "UpdateItem"),
                 dead_letter=True, streams=True, event_bus=True, webhooks_queue=SEND)
WEBHOOKS = Grants(notify=True, webhooks_queue=QUEUE_ACTIONS)


def job_function(job: str) -> str:
    """The logical id Chalice gives a job's scheduled function (app.py names it job_name)."""
    return "".join(w.capitalize() for w in job.split("-"))


def _functions() -> dict[str, Grants]:
    from chalicelib.jobs.runner import load_jobs

    return {"APIHandler": API, "StreamHandler": STREAMS, "JobsWorker": WORKER, "WebhookDeliverer": WEBHOOKS,
            **{job_function(name): PLANNER for name in sorted(load_jobs())}}


FUNCTIONS: dict[str, Grants] = _functions()


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


@dataclass(frozen=True)
class Arns:
    """How a policy names its resources: literal ARNs of a stage (.chalice/policy-<stage>.json, for
    Chalice) or Fn::Sub expressions of the template (partition, region, account, TablePrefix)."""

    stage: str
    template: bool = False

    def _arn(self, service: str, resource: str) -> Any:
        if self.template:
            return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}
        return f"arn:aws:{service}:*:*:{resource}"

    def tables(self) -> list[Any]:
        prefix = "${TablePrefix}" if self.template else f"imbill-{self.stage}-"
        return [self._arn("dynamodb", f"table/{prefix}*"), self._arn("dynamodb", f"table/{prefix}*/index/*")]

    def streams(self) -> list[Any]:
        prefix = "${TablePrefix}" if self.template else f"imbill-{self.stage}-"
        return [self._arn("dynamodb", f"table/{prefix}{name}/stream/*") for name in stream_tables()]

    def queue(self, dead_letter: bool = False) -> Any:
        if self.template:
            return {"Fn::GetAtt": ["JobsDeadLetterQueue" if dead_letter else "JobsQueue", "Arn"]}
        return self._arn("sqs", dead_letter_queue(self.stage) if dead_letter else jobs_queue_name(self.stage))

    def webhooks_queue(self) -> Any:
        if self.template:
            return {"Fn::GetAtt": ["WebhooksQueue", "Arn"]}
        return self._arn("sqs", webhooks_queue_name(self.stage))

    def event_bus(self) -> Any:
        return self._arn("events", f"event-bus/{event_bus_name(self.stage)}")

    def secret(self) -> Any:
        return self._arn("ssm", f"parameter{secret_param(self.stage)}")

    def email_identities(self) -> Any:
        return self._arn("ses", "identity/*")  # the sender's identity (and, in the sandbox, the recipients')

    def logs(self, function: str | None) -> Any:
        if self.template and function is not None:  # the function's own log group (names start with the stack's)
            return self._arn("logs", f"log-group:/aws/lambda/${{AWS::StackName}}-{function}-*:*")
        return self._arn("logs", "log-group:/aws/lambda/*:*")


def statements(grants: Grants, arns: Arns, function: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"Sid": "Logs", "Effect": "Allow", "Action": list(LOG_ACTIONS), "Resource": arns.logs(function)},
        # X-Ray has no resource-level permissions
        {"Sid": "Traces", "Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": "*"},
    ]
    if grants.items:
        out.append({"Sid": "Tables", "Effect": "Allow", "Action": [f"dynamodb:{a}" for a in sorted(grants.items)],
                    "Resource": arns.tables()})
    if grants.notify:
        out.append({"Sid": "Email", "Effect": "Allow", "Action": list(EMAIL_ACTIONS),
                    "Resource": arns.email_identities()})
        # SMS goes to phone numbers, which have no ARN: SNS Publish cannot be narrowed
        out.append({"Sid": "Sms", "Effect": "Allow", "Action": list(SMS_ACTIONS), "Resource": "*"})
    if grants.queue:
        out.append({"Sid": "JobsQueue", "Effect": "Allow", "Action": sorted(grants.queue), "Resource": arns.queue()})
    if grants.dead_letter:
        out.append({"Sid": "DeadLetterQueue", "Effect": "Allow", "Action": list(SEND),
                    "Resource": arns.queue(dead_letter=True)})
    if grants.streams:
        out.append({"Sid": "Streams", "Effect": "Allow", "Action": list(STREAM_ACTIONS), "Resource": arns.streams()})
    if grants.secret:
        out.append({"Sid": "AuthSecret", "Effect": "Allow", "Action": list(SECRET_ACTIONS), "Resource": arns.secret()})
    if grants.event_bus:
        out.append({"Sid": "EventBus", "Effect": "Allow", "Action": list(PUT_EVENTS), "Resource": arns.event_bus()})
    if grants.webhooks_queue:
        out.append({"Sid": "WebhooksQueue", "Effect": "Allow", "Action": sorted(grants.webhooks_queue),
                    "Resource": arns.webhooks_queue()})
    return out


def union() -> Grants:
    every = list(FUNCTIONS.values())
    return Grants(items=tuple(sorted({a for g in every for a in g.items})), notify=any(g.notify for g in every),
                  secret=any(g.secret for g in every), queue=tuple(sorted({a for g in every for a in g.queue})),
                  dead_letter=any(g.dead_letter for g in every), streams=any(g.streams for g in every),
                  event_bus=any(g.event_bus for g in every),
                  webhooks_queue=tuple(sorted({a for g in every for a in g.webhooks_queue})))


def policy(stage: str, function: str | None = None, *, template: bool = False) -> dict[str, Any]:
    """The policy of one function (None: the union of all, .chalice/policy-<stage>.json)."""
    grants = FUNCTIONS[function] if function is not None else union()
    return {"Version": "2012-10-17", "Statement": statements(grants, Arns(stage, template), function)}


def allowed_actions(stage: str = "dev", function: str | None = None) -> set[str]:
    out: set[str] = set()
    for st in policy(stage, function)["Statement"]:
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
