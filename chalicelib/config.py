"""Settings read once from the environment (the only place that reads os.environ)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

DEV_SECRET = "imbill-local-dev-secret-not-for-production"


class ConfigError(RuntimeError):
    """The service cannot start with this configuration."""


@dataclass(frozen=True)
class Settings:
    stage: str
    auth_secret: str
    timezone: str
    test_clock: bool
    table_prefix: str
    dynamodb_endpoint: str | None
    region: str
    notify: str  # "aws" (SES/SNS) or "local" (outbox only)
    email_from: str

    @staticmethod
    def from_env() -> Settings:
        stage = os.environ.get("IMBILL_STAGE", "local")
        secret = os.environ.get("IMBILL_AUTH_SECRET", "")
        if not secret:
            if stage != "local":
                raise ConfigError(f"IMBILL_AUTH_SECRET must be set in stage {stage!r}")
            secret = DEV_SECRET
        return Settings(
            stage=stage,
            auth_secret=secret,
            timezone=os.environ.get("IMBILL_TIMEZONE", "UTC"),
            test_clock=os.environ.get("IMBILL_TEST_CLOCK", "0") == "1",
            table_prefix=os.environ.get("IMBILL_TABLE_PREFIX", f"imbill-{stage}-"),
            dynamodb_endpoint=os.environ.get("IMBILL_DYNAMODB_ENDPOINT") or None,
            region=os.environ.get("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1")),
            notify=os.environ.get("IMBILL_NOTIFY", "aws"),
            email_from=os.environ.get("IMBILL_EMAIL_FROM", "billing@imbill.example.com"),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    settings.cache_clear()
