"""The ``imbill`` command: serve the API locally, mint tokens, create tables, run DynamoDB Local.

Everything heavy is imported inside the commands, so ``import chalicelib.cli`` stays cheap, and so
the environment is settled before ``chalicelib.config.settings()`` is first read.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHALICE_STAGE = "local"
DEFAULT_TOKEN_TTL_S = 86400 * 30
LOCAL_SCHEDULER = ("chalicelib.jobs.scheduler", "start_local_scheduler")

cli = typer.Typer(
    name="imbill",
    help="imbill: billing backend of a cloud instant-messaging service (local tooling).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tables_cli = typer.Typer(help="DynamoDB tables of the configured stage.", no_args_is_help=True)
cli.add_typer(tables_cli, name="tables")


class Role(StrEnum):
    customer = "customer"
    operator = "operator"
    service = "service"


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _noop() -> None:
    return None


def _use_local_credentials() -> None:
    """Dummy AWS credentials and region for local endpoints, unless the shell already has some."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def _configure_local_env(ddb_port: int, test_clock: bool | None) -> None:
    """The environment of a local server; must run before chalicelib.config.settings() is read."""
    from chalicelib.local.ddblocal import endpoint_url

    _use_local_credentials()
    # IMBILL_STAGE as given (default local): outside `local` the test clock is off unless asked for,
    # and asked for it refuses to start (config.Settings), as the deployed stages do
    stage = os.environ.setdefault("IMBILL_STAGE", CHALICE_STAGE) or CHALICE_STAGE
    os.environ["IMBILL_DYNAMODB_ENDPOINT"] = endpoint_url(ddb_port)
    if test_clock is not None:  # the flag decides; else IMBILL_TEST_CLOCK as given (0 or 1), default on locally
        os.environ["IMBILL_TEST_CLOCK"] = "1" if test_clock else "0"
    os.environ.setdefault("IMBILL_TEST_CLOCK", "1" if stage == CHALICE_STAGE else "0")
    os.environ["IMBILL_NOTIFY"] = "local"
    if stage == CHALICE_STAGE:  # what the local stage of .chalice/config.json sets, unless already decided
        for name, value in _chalice_config()["stages"][CHALICE_STAGE].get("environment_variables", {}).items():
            os.environ.setdefault(name, value)


# The local stage when .chalice/config.json is not there (`pip install .` installs the code, not the
# Chalice project folder): what the local server needs of it.
INSTALLED_CONFIG: dict[str, Any] = {
    "version": "2.0", "app_name": "imbill",
    "stages": {CHALICE_STAGE: {"api_gateway_stage": "api", "environment_variables": {
        "IMBILL_STAGE": "local", "IMBILL_TIMEZONE": "UTC", "IMBILL_TEST_CLOCK": "1", "IMBILL_NOTIFY": "local"}}},
}


def _chalice_config() -> dict[str, Any]:
    """The checkout's .chalice/config.json, or INSTALLED_CONFIG in an installed package."""
    path = PROJECT_ROOT / ".chalice" / "config.json"
    if not path.exists():
        return INSTALLED_CONFIG
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read {path}: {exc}") from exc
    return data


def _start_store(data_dir: Path | None, ddb_port: int) -> Callable[[], None]:
    """Start DynamoDB Local (``data_dir`` None: in memory); return the function that stops it."""
    from chalicelib.local import ddblocal

    try:
        proc = ddblocal.start(data_dir, ddb_port)  # installs DynamoDB Local on first use
    except ddblocal.DynamoDBLocalError as exc:
        raise _fail(str(exc)) from exc
    where = f"data in {data_dir.resolve()}" if data_dir is not None else "in memory"
    typer.echo(f"DynamoDB Local on {ddblocal.endpoint_url(ddb_port)}, {where}", err=True)

    def stop() -> None:
        typer.echo("stopping DynamoDB Local ...", err=True)
        ddblocal.stop(proc)

    return stop


def _start_local_scheduler(contexts: Any) -> Callable[[], None]:
    """Start the jobs' local scheduler when the project has one; return the function that stops it."""
    module_name, function_name = LOCAL_SCHEDULER
    if importlib.util.find_spec(module_name) is None:
        return _noop
    start = getattr(importlib.import_module(module_name), function_name, None)
    if start is None:
        typer.echo(f"note: {module_name}.{function_name} not found; no local scheduler", err=True)
        return _noop
    handle = start(contexts)
    stop = getattr(handle, "stop", None)
    return stop if callable(stop) else _noop


def _create_tables() -> None:
    from chalicelib.config import settings
    from chalicelib.store.dynamodb.tables import create_tables

    created = create_tables()
    current = settings()
    where = current.dynamodb_endpoint or f"AWS {current.region}"
    made = f"created {', '.join(created)}" if created else "all present"
    typer.echo(f"tables {current.table_prefix}* at {where}: {made}")


def _create_local_server(host: str, port: int) -> Any:
    from chalicelib.local.server import create_server

    return create_server(PROJECT_ROOT, _chalice_config(), CHALICE_STAGE, host, port)


SERVE_ENGINE = "dynamodb-local"
MOTO_DROPPED = (
    "--engine moto was removed from `imbill serve`: moto copies whole tables on every transaction "
    "and is not safe under concurrent requests, so it could not hold a month of real traffic. "
    "Use --in-memory for a throwaway store (DynamoDB Local without a data folder)."
)


@cli.command(epilog=MOTO_DROPPED)
def serve(
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Where DynamoDB Local keeps its data.")] = Path(".local/data"),
    in_memory: Annotated[bool, typer.Option(help="Keep nothing on disk (ignores --data-dir).")] = False,
    ddb_port: Annotated[
        int | None, typer.Option(help="Port of DynamoDB Local (default: a free port).", show_default=False)
    ] = None,
    test_clock: Annotated[
        bool | None, typer.Option(help="Serve /v1/test/clock (default: IMBILL_TEST_CLOCK, else on).")
    ] = None,
    engine: Annotated[str, typer.Option(hidden=True)] = SERVE_ENGINE,
) -> None:
    """Serve the API on http://HOST:PORT backed by DynamoDB Local (persisted in --data-dir)."""
    if engine != SERVE_ENGINE:
        raise _fail(MOTO_DROPPED, code=2)
    from chalicelib.local import ddblocal

    if ddb_port is None:
        ddb_port = ddblocal.free_port()
    _configure_local_env(ddb_port, test_clock)
    from chalicelib import bootstrap
    from chalicelib.config import ConfigError

    bootstrap.reset()  # the environment just set is the server's
    try:
        current = bootstrap.current().settings
    except ConfigError as exc:
        raise _fail(str(exc)) from exc

    signal.signal(signal.SIGTERM, _interrupt)
    stoppers: list[Callable[[], None]] = []
    store_dir = None if in_memory else data_dir
    try:
        stoppers.append(_start_store(store_dir, ddb_port))
        _create_tables()
        from chalicelib.api.auth import mint_token

        token = mint_token("operator", ttl_seconds=DEFAULT_TOKEN_TTL_S)
        # Like `chalice local`: the app's and Lambda-style logs go to stdout.
        logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
        try:
            server = _create_local_server(host, port)
        except OSError as exc:
            raise _fail(f"cannot listen on {host}:{port}: {exc}") from exc
        stoppers.append(server.server.server_close)
        contexts = bootstrap.current().contexts  # the server's composition, handed to its threads
        stoppers.append(_start_local_scheduler(contexts))
        from chalicelib.local.poller import start_local_poller

        stoppers.append(start_local_poller(contexts).stop)  # read views from the tables' streams

        url = f"http://{host}:{port}"
        typer.secho(f"\nimbill serving on {url}  (stage {current.stage})", bold=True)
        if store_dir is not None:
            typer.echo(f"  Data:       {store_dir.resolve()} (DynamoDB Local on port {ddb_port})")
        else:
            typer.secho(
                f"  Data:       IN MEMORY (DynamoDB Local on port {ddb_port}): lost when this process stops",
                fg=typer.colors.RED,
                bold=True,
            )
        typer.echo(f"  OpenAPI:    curl {url}/v1/openapi.json")
        typer.echo(f"  Test clock: {'on' if current.test_clock else 'off'}")
        typer.echo(f"  Operator token (valid {DEFAULT_TOKEN_TTL_S // 86400} days):")
        typer.echo(f"    export IMBILL_TOKEN={token}")
        typer.echo("Ctrl-C to stop.\n")
        sys.stdout.flush()
        server.server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("\nshutting down ...", err=True)
    finally:
        for stop in reversed(stoppers):
            stop()


@cli.command()
def token(
    role: Annotated[Role, typer.Option(help="Role claim of the token.")],
    account: Annotated[str | None, typer.Option(help="Account id (the sub of a customer token).")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.", min=1)] = DEFAULT_TOKEN_TTL_S,
    name: Annotated[str | None, typer.Option(help="The operator's own name (the sub: the actor of its events; "
                                                  "required outside the local stage).")] = None,
) -> None:
    """Print a bearer token signed with the configured IMBILL_AUTH_SECRET."""
    if role is Role.customer and not account:
        raise _fail("a customer token needs --account ACCOUNT_ID", code=2)
    if name is not None and role is not Role.operator:
        raise _fail("--name names an operator (--role operator)", code=2)
    from chalicelib.api.auth import mint_token
    from chalicelib.config import ConfigError

    try:
        typer.echo(mint_token(role.value, account, ttl_seconds=ttl, name=name))
    except ConfigError as exc:
        raise _fail(str(exc)) from exc


@tables_cli.command("create")
def tables_create() -> None:
    """Create every table that is missing (idempotent) at IMBILL_DYNAMODB_ENDPOINT, or in AWS."""
    from chalicelib.config import ConfigError, settings

    try:
        current = settings()
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    if current.dynamodb_endpoint:
        _use_local_credentials()
    _create_tables()


@cli.command("ddb-local")
def ddb_local(
    data_dir: Annotated[Path, typer.Option(help="Where DynamoDB Local keeps its data.")] = Path(".local/data"),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    in_memory: Annotated[bool, typer.Option(help="Keep nothing on disk (ignores --data-dir).")] = False,
) -> None:
    """Run DynamoDB Local alone in the foreground until Ctrl-C (installs it on first use)."""
    from chalicelib.local import ddblocal

    try:
        code = ddblocal.run_foreground(None if in_memory else data_dir, port)
    except ddblocal.DynamoDBLocalError as exc:
        raise _fail(str(exc)) from exc
    raise typer.Exit(code)


jobs_cli = typer.Typer(help="Scheduled jobs.", no_args_is_help=True)
cli.add_typer(jobs_cli, name="jobs")


@jobs_cli.command("list")
def jobs_list() -> None:
    """List the jobs and their AWS cron schedules."""
    from chalicelib.jobs.runner import load_jobs

    for job in load_jobs().values():
        typer.echo(f"{job.name:22} {job.schedule.aws_cron}")


@jobs_cli.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="Job name, e.g. expiry-warnings.")],
    at: Annotated[str, typer.Option(help="Instant the job acts as of (ISO-8601 with zone).")],
) -> None:
    """Run one job as of an instant through the API, like the other commands (POST /v1/jobs/NAME/runs
    at IMBILL_URL with IMBILL_TOKEN), and print its answer (JSON). Exit code 2 when the API refuses
    it (an unknown job, an instant ahead of the service clock)."""
    from urllib.parse import quote

    from chalicelib import cli_client

    status, answer = cli_client.transport("POST", f"/v1/jobs/{quote(name, safe='')}/runs", {"at": at}, {})
    if status >= 400:
        err = answer.get("error", {}) if isinstance(answer, dict) else {}
        raise _fail(f"{err.get('message', 'the run was refused')} ({err.get('code', 'error')}, HTTP {status})",
                    code=2 if status < 500 else 1)
    typer.echo(json.dumps(answer))


def explain(exc: BaseException) -> str | None:
    """One line for the failures an operator meets (no credentials, no endpoint, a bad setting),
    found anywhere in the exception's chain; None for anything else (a bug: keep the traceback)."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    from chalicelib.config import ConfigError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConfigError):
            return str(current)
        if isinstance(current, NoCredentialsError):
            return ("no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or point "
                    "IMBILL_DYNAMODB_ENDPOINT at a local DynamoDB (`imbill ddb-local`)")
        if isinstance(current, NoRegionError):
            return "no AWS region: set AWS_DEFAULT_REGION"
        if isinstance(current, EndpointConnectionError):
            return (f"cannot reach {current.kwargs.get('endpoint_url', 'the endpoint')}: is DynamoDB Local running "
                    "(`imbill ddb-local`), or IMBILL_DYNAMODB_ENDPOINT wrong?")
        if isinstance(current, ClientError):
            err = current.response.get("Error", {})
            return f"AWS refused {current.operation_name}: {err.get('Code')}: {err.get('Message')}"
        current = current.__cause__ or current.__context__ or getattr(current, "cause", None)
    return None


from chalicelib import cli_client  # noqa: E402  (operator views over the HTTP API)
from chalicelib.cli_renewals import renewals_cli  # noqa: E402  (imbill renewals list|quote|renew)

cli_client.register(cli)
cli.add_typer(renewals_cli, name="renewals")
from chalicelib import cli_events  # noqa: E402  (`imbill events tail`)

cli_events.register(cli)


def main() -> None:
    # imbill.* records reach the root's handlers (`serve` configures them) and are not printed by
    # logging's last resort otherwise: a command's outcome is its own output or one error line
    logging.getLogger("imbill").addHandler(logging.NullHandler())
    try:
        cli()
    except Exception as exc:  # noqa: BLE001 - an operator's mistake is one line, a bug keeps its traceback
        line = explain(exc)
        if line is None:
            raise
        typer.secho(f"error: {line}", fg=typer.colors.RED, err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
