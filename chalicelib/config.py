"""Settings read once from the environment (the only place that reads os.environ), validated at start.

Every setting is checked when the service starts (``app.py`` calls :func:`settings` at import), and
a bad one refuses the start with ONE line naming the variable (:class:`ConfigError`), instead of a
server whose every request is a 500. The auth secret is never needed to build or import the app: in
``dev``/``prod`` it is an SSM Parameter Store SecureString named by ``IMBILL_AUTH_SECRET_PARAM``,
read at first use and cached (:func:`auth_secret`); locally ``IMBILL_AUTH_SECRET`` (or a dev default).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chalicelib.domain.catalog import CATALOG_PATH, Catalog, load

VERSION = "0.1.0"  # = pyproject's [project] version (tests/api/test_service_endpoints.py); GET /v1/health
DEV_SECRET = "imbill-local-dev-secret-not-for-production"
MIN_SECRET_BYTES = 32  # HS256 key: at least the hash's output size outside `local`
SECRET_MAX_AGE_S = 300  # a rotated SSM secret is picked up within five minutes
SMS_SENDER_ID = r"^[A-Za-z0-9]{0,10}[A-Za-z][A-Za-z0-9]{0,10}$"  # and at most 11 characters
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal")


class ConfigError(RuntimeError):
    """The service cannot start with this configuration (the message is one line)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IMBILL_", frozen=True, extra="ignore")

    stage: str = Field("local", pattern=r"^[a-z][a-z0-9-]{0,20}$")
    auth_secret: str | None = Field(None, repr=False)  # IMBILL_AUTH_SECRET: local use, or an explicit override
    auth_secret_param: str | None = None  # IMBILL_AUTH_SECRET_PARAM: SSM SecureString name (dev/prod)
    timezone: str = "UTC"
    test_clock: bool = False
    table_prefix: str = ""  # default imbill-<stage>-
    dynamodb_endpoint: str | None = None
    region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_DEFAULT_REGION", "AWS_REGION"))
    notify: Literal["aws", "local"] = "aws"  # default "local" when the store is a local endpoint
    email_from: str = Field("billing@imbill.example.com", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # IMBILL_SMS_SENDER_ID: the SMS sender id (1-11 letters and digits, one letter at least), where allowed
    sms_sender_id: str | None = Field(None, max_length=11, pattern=SMS_SENDER_ID)
    # Jobs (chalicelib/jobs/fanout.py, docs/capacity.md). Without a queue every run is inline.
    jobs_queue_url: str | None = None  # IMBILL_JOBS_QUEUE_URL: the jobs' SQS queue (fan-out)
    jobs_page: int = Field(200, ge=1, le=10_000)  # due items one queue message processes
    jobs_inline_max: int = Field(100, ge=0)  # a run with at most this many due items stays inline
    due_shards: int = Field(4, ge=1, le=1024)  # shard written on new items: hash(key) % due_shards
    # Webhooks and EventBridge (chalicelib/services/webhooks.py, chalicelib/integrations/)
    webhook_timeout_s: float = Field(10.0, gt=0, le=30)  # a delivery answered 2xx within this is delivered
    webhooks_queue_url: str | None = None  # IMBILL_WEBHOOKS_QUEUE_URL: deliveries' SQS queue (deployed)
    event_bus: str | None = None  # IMBILL_EVENT_BUS: the EventBridge bus every event is put on (deployed)
    catalog: str | None = None  # IMBILL_CATALOG: another catalog file (a test catalog, a staging price list)
    due_shards_read: int = Field(0, ge=0, le=1024)  # readers list shards 0..max(both)-1 (set to the old N
    #                                                  while shrinking, until its upper shards are empty)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if v != ""}  # an empty variable means "unset"
            data.setdefault("table_prefix", f"imbill-{data.get('stage', 'local')}-")
            if data.get("dynamodb_endpoint"):
                data.setdefault("notify", "local")
        return data

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _stage_rules(self) -> Settings:
        if self.stage != "local":
            if self.test_clock:
                raise ValueError(f"IMBILL_TEST_CLOCK=1 is only allowed in stage 'local', not {self.stage!r}")
            if not self.auth_secret and not self.auth_secret_param:
                raise ValueError(f"stage {self.stage!r} needs IMBILL_AUTH_SECRET_PARAM (an SSM SecureString name)")
            if self.auth_secret:
                check_secret(self.auth_secret, self.stage)
        if self.notify == "aws" and self.dynamodb_endpoint and _is_local(self.dynamodb_endpoint):
            raise ValueError("IMBILL_NOTIFY=aws with a local IMBILL_DYNAMODB_ENDPOINT would send real e-mail "
                             "and SMS about local data; use IMBILL_NOTIFY=local")
        return self


def jobs_queue_name(stage: str) -> str:
    """The stage's jobs queue: infra/package.py creates it, infra/policy.py allows it, app.py's
    worker consumes it, and IMBILL_JOBS_QUEUE_URL (set by the template) is its URL."""
    return f"imbill-{stage}-jobs"


def webhooks_queue_name(stage: str) -> str:
    """The stage's webhook deliveries queue (infra/package.py creates it, the worker consumes it)."""
    return f"imbill-{stage}-webhooks"


def event_bus_name(stage: str) -> str:
    """The stage's EventBridge bus (contract: `imbill-<stage>`)."""
    return f"imbill-{stage}"


def _is_local(url: str) -> bool:
    return (urlparse(url).hostname or "") in LOCAL_HOSTS


def check_secret(secret: str, stage: str) -> str:
    if stage != "local" and len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"the auth secret of stage {stage!r} is {len(secret.encode())} bytes; "
                          f"at least {MIN_SECRET_BYTES} are required")
    return secret


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = err.get("loc") or ()
        name = f"IMBILL_{str(loc[0]).upper()}" if loc else ""
        if name == "IMBILL_REGION":
            name = "AWS_DEFAULT_REGION"
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{name}: {msg}" if name else msg)
    return "invalid configuration: " + "; ".join(parts)


@lru_cache(maxsize=1)
def settings() -> Settings:
    try:
        return Settings()  # type: ignore[call-arg]  # every field comes from the environment
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


@lru_cache(maxsize=4)
def catalog_at(path: str | None) -> Catalog:
    """The catalog of a file (None: the packaged chalicelib/catalog.json), loaded once per process."""
    return load(Path(path) if path else CATALOG_PATH)


def default_catalog() -> Catalog:
    """The catalog the settings name (IMBILL_CATALOG), else the packaged one: what bootstrap.compose()
    composes when it is given none."""
    return catalog_at(settings().catalog)


def reset_settings() -> None:
    """Read the environment again (and the secret, if it was cached from SSM)."""
    settings.cache_clear()
    catalog_at.cache_clear()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()


def auth_secret() -> str:
    """The HS256 key: IMBILL_AUTH_SECRET if set, else the SSM SecureString IMBILL_AUTH_SECRET_PARAM
    (fetched on first use, cached SECRET_MAX_AGE_S by Powertools), else the local dev secret."""
    s = settings()
    if s.auth_secret:
        return s.auth_secret
    if s.auth_secret_param:
        from aws_lambda_powertools.utilities.parameters import get_parameter

        value = get_parameter(s.auth_secret_param, decrypt=True, max_age=SECRET_MAX_AGE_S)
        return check_secret(str(value), s.stage)
    return DEV_SECRET
