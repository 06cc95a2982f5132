"""Every setting is validated at start-up: a bad one refuses with ONE line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib import config
from chalicelib.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SECRET_32 = "x" * 32


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in ("IMBILL_AUTH_SECRET", "IMBILL_AUTH_SECRET_PARAM", "IMBILL_DYNAMODB_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    config.reset_settings()
    yield
    config.reset_settings()


def refusal(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    config.reset_settings()
    with pytest.raises(ConfigError) as err:
        config.settings()
    assert "\n" not in str(err.value)
    return str(err.value)


def test_an_unknown_time_zone_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "IMBILL_TIMEZONE" in refusal(monkeypatch, IMBILL_TIMEZONE="Mars/Base")


def test_the_test_clock_is_refused_outside_local(monkeypatch: pytest.MonkeyPatch) -> None:
    for stage in ("dev", "prod"):
        line = refusal(monkeypatch, IMBILL_STAGE=stage, IMBILL_TEST_CLOCK="1", IMBILL_AUTH_SECRET=SECRET_32)
        assert "IMBILL_TEST_CLOCK" in line and stage in line


def test_a_short_secret_is_refused_outside_local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "at least 32" in refusal(monkeypatch, IMBILL_STAGE="prod", IMBILL_TEST_CLOCK="0",
                                    IMBILL_AUTH_SECRET="x" * 31)
    monkeypatch.setenv("IMBILL_AUTH_SECRET", SECRET_32)
    config.reset_settings()
    assert config.auth_secret() == SECRET_32
    monkeypatch.setenv("IMBILL_STAGE", "local")
    monkeypatch.setenv("IMBILL_AUTH_SECRET", "short")
    config.reset_settings()
    assert config.auth_secret() == "short"


def test_a_deployed_stage_needs_the_secret_parameter_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "IMBILL_AUTH_SECRET_PARAM" in refusal(monkeypatch, IMBILL_STAGE="dev", IMBILL_TEST_CLOCK="0")


def test_bad_values_of_other_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "IMBILL_NOTIFY" in refusal(monkeypatch, IMBILL_NOTIFY="pigeon")
    monkeypatch.setenv("IMBILL_NOTIFY", "aws")
    assert "IMBILL_TEST_CLOCK" in refusal(monkeypatch, IMBILL_TEST_CLOCK="maybe")
    monkeypatch.setenv("IMBILL_TEST_CLOCK", "1")
    assert "IMBILL_EMAIL_FROM" in refusal(monkeypatch, IMBILL_EMAIL_FROM="nobody")


def test_a_local_endpoint_never_sends_through_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import notify

    monkeypatch.delenv("IMBILL_NOTIFY")
    monkeypatch.setenv("IMBILL_DYNAMODB_ENDPOINT", "http://127.0.0.1:8001")
    config.reset_settings()
    assert config.settings().notify == "local"
    assert isinstance(notify.for_settings(config.settings()), notify.LocalNotifier)
    assert "IMBILL_NOTIFY=aws" in refusal(monkeypatch, IMBILL_NOTIFY="aws")


def test_the_sms_sender_id_is_1_to_11_letters_and_digits_with_a_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("12345", "ABCDEFGHIJKL", "IM BILL"):
        assert "IMBILL_SMS_SENDER_ID" in refusal(monkeypatch, IMBILL_SMS_SENDER_ID=bad)
    monkeypatch.setenv("IMBILL_SMS_SENDER_ID", "Imbill2")
    config.reset_settings()
    assert config.settings().sms_sender_id == "Imbill2"
