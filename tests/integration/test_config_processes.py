"""Settings as processes see them: the secret read from SSM, `import app` and `imbill serve` in a fresh
interpreter refusing a bad setting in one line (moved out of tests/unit: these start processes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chalicelib import config
from chalicelib.config import ConfigError
from tests.unit.test_config import ROOT, SECRET_32, fresh_settings  # noqa: F401  (the autouse fixture)


def test_the_secret_is_read_from_ssm_at_first_use_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name="/imbill/dev/auth-secret", Value="s" * 40, Type="SecureString")
        monkeypatch.setenv("IMBILL_STAGE", "dev")
        monkeypatch.setenv("IMBILL_TEST_CLOCK", "0")
        monkeypatch.setenv("IMBILL_AUTH_SECRET_PARAM", "/imbill/dev/auth-secret")
        config.reset_settings()
        assert config.auth_secret() == "s" * 40
        ssm.put_parameter(Name="/imbill/dev/auth-secret", Value="t" * 40, Type="SecureString", Overwrite=True)
        assert config.auth_secret() == "s" * 40  # cached (for config.SECRET_MAX_AGE_S)


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("IMBILL_", "AWS_"))}
    clean.update({"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent",
                  "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", **env})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=clean,
                          timeout=120)


def test_import_app_needs_no_secret_nor_credentials() -> None:
    run = _python("import app; print(len(app.app.routes))", IMBILL_STAGE="prod",
                  IMBILL_AUTH_SECRET_PARAM="/imbill/prod/auth-secret")
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) > 10


def test_serve_refuses_a_bad_setting_in_one_line() -> None:
    run = subprocess.run([sys.executable, "-m", "chalicelib.cli", "serve", "--ddb-port", "1"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("IMBILL_")},
                              "IMBILL_TIMEZONE": "Mars/Base"})
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == ["error: invalid configuration: IMBILL_TIMEZONE: unknown time zone "
                                               "'Mars/Base' (an IANA name such as Europe/Berlin)"]


def test_serve_honours_an_explicit_test_clock_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.cli import _configure_local_env

    monkeypatch.setattr(os, "environ", dict(os.environ))  # the function writes the environment: keep it to this test
    for given, flag, expect in (("0", None, "0"), ("1", None, "1"), (None, None, "1"), ("1", False, "0"),
                                ("0", True, "1")):
        if given is None:
            monkeypatch.delenv("IMBILL_TEST_CLOCK", raising=False)
        else:
            monkeypatch.setenv("IMBILL_TEST_CLOCK", given)
        _configure_local_env(8001, flag)
        assert os.environ["IMBILL_TEST_CLOCK"] == expect, (given, flag)


def test_serve_honours_the_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    """`IMBILL_STAGE=prod imbill serve` is prod: no test clock unless asked for, and asked for, a refusal."""
    from chalicelib.cli import _configure_local_env

    monkeypatch.setattr(os, "environ", dict(os.environ))
    monkeypatch.setenv("IMBILL_STAGE", "prod")
    monkeypatch.delenv("IMBILL_TEST_CLOCK", raising=False)
    monkeypatch.setenv("IMBILL_AUTH_SECRET", SECRET_32)
    _configure_local_env(8001, None)
    assert (os.environ["IMBILL_STAGE"], os.environ["IMBILL_TEST_CLOCK"]) == ("prod", "0")
    config.reset_settings()
    assert config.settings().stage == "prod" and not config.settings().test_clock
    _configure_local_env(8001, True)
    with pytest.raises(ConfigError, match="IMBILL_TEST_CLOCK=1 is only allowed in stage 'local'"):
        config.reset_settings()
        config.settings()
    monkeypatch.delenv("IMBILL_STAGE")
    monkeypatch.delenv("IMBILL_TEST_CLOCK")
    _configure_local_env(8001, None)
    assert (os.environ["IMBILL_STAGE"], os.environ["IMBILL_TEST_CLOCK"]) == ("local", "1")


def test_serve_in_stage_prod_refuses_the_test_clock_before_starting_anything() -> None:
    run = subprocess.run([sys.executable, "-m", "chalicelib.cli", "serve", "--in-memory"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("IMBILL_")},
                              "IMBILL_STAGE": "prod", "IMBILL_TEST_CLOCK": "1", "IMBILL_AUTH_SECRET": SECRET_32})
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "error: invalid configuration: IMBILL_TEST_CLOCK=1 is only allowed in stage 'local', not 'prod'"]


def test_the_installed_packages_local_stage_is_the_checkouts() -> None:
    """`pip install .` has no .chalice/config.json: serve uses cli.INSTALLED_CONFIG, kept equal to it."""
    import json

    from chalicelib.cli import CHALICE_STAGE, INSTALLED_CONFIG

    on_disk = json.loads((ROOT / ".chalice" / "config.json").read_text())
    local = on_disk["stages"][CHALICE_STAGE]
    assert INSTALLED_CONFIG["stages"][CHALICE_STAGE] == local
    assert {k: on_disk[k] for k in ("version", "app_name")} == {k: INSTALLED_CONFIG[k] for k in ("version", "app_name")}


def test_operator_commands_without_credentials_or_endpoint_say_so_in_one_line() -> None:
    for args, env, expect in (
        (["tables", "create"], {}, "error: no AWS credentials"),
        (["jobs", "run", "reclamation", "--at", "2026-01-01T00:00:00Z"], {}, "error: IMBILL_TOKEN is not set"),
        (["jobs", "run", "reclamation", "--at", "2026-01-01T00:00:00Z"],
         {"IMBILL_TOKEN": "t", "IMBILL_URL": "http://127.0.0.1:9"}, "error: cannot reach http://127.0.0.1:9"),
        (["tables", "create"], {"IMBILL_DYNAMODB_ENDPOINT": "http://127.0.0.1:9"}, "error: cannot reach"),
        (["token", "--role", "operator"], {"IMBILL_STAGE": "prod"}, "error: invalid configuration"),
    ):
        run = _python(f"import sys; sys.argv = ['imbill', *{args!r}]; from chalicelib.cli import main; main()",
                      AWS_DEFAULT_REGION="us-east-1", **env)
        lines = run.stderr.strip().splitlines()
        assert run.returncode != 0 and len(lines) == 1 and lines[0].startswith(expect), (args, run.stderr[-2000:])


def test_import_app_defers_the_validators_and_leaves_the_collector_on() -> None:
    """Cold start: `import app` builds no pydantic validator (each is built at its first use), and the
    garbage collector, paused while it loads, is back on with the loaded objects frozen (not rescanned)."""
    code = ("import gc, app\nfrom chalicelib.api import schemas\n"
            "def tree(c): return [c, *(m for s in c.__subclasses__() for m in tree(s))]\n"
            "models = tree(schemas.Request) + tree(schemas.Reply)\n"
            "frozen = gc.isenabled() and gc.get_freeze_count() > 10_000\n"
            "print(frozen, len(models), [m.__name__ for m in models if m.__pydantic_complete__])\n"
            "schemas.PurchaseCreate.model_validate({'edition': 'standard', 'months': 1})\n"
            "print(schemas.PurchaseCreate.__pydantic_complete__)")
    run = _python(code, IMBILL_STAGE="prod", IMBILL_AUTH_SECRET_PARAM="/imbill/prod/auth-secret")
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.splitlines()
    assert first.startswith("True ") and first.endswith(" []"), first
    assert int(first.split()[1]) > 40
    assert second == "True"
