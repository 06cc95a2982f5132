"""`imbill events tail [--type T ...] [--account ID]`: follow the events over the HTTP API (IMBILL_URL,
IMBILL_TOKEN), oldest first, one line each (or one JSON object per line with --json)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from chalicelib import cli_client

events_cli = typer.Typer(help="Events: every committed change (GET /v1/events).", no_args_is_help=True)


def line(e: dict[str, Any]) -> str:
    actor = e["actor"]
    who = f"{actor['role']}:{actor['sub']}" if actor.get("sub") else actor["role"]
    where = " ".join(f"{k}={e[k]}" for k in ("account_id", "sdkappid") if e.get(k) is not None)
    return f"{e['occurred_at']}  {e['type']:<30} {where}  by {who}  {e['event_id']}"


def newest(types: list[str], account: str | None, since: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest events (one type: filtered by the API, several: here), oldest first."""
    body = cli_client.get("/v1/events", type=types[0] if len(types) == 1 else None, account_id=account,
                         from_=since, limit=limit)
    items = [e for e in body["items"] if not types or e["type"] in types]
    return list(reversed(items))


@events_cli.command("tail")
def tail(
    type_: Annotated[list[str] | None, typer.Option("--type", help="Only these types (repeat the option).")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account's events.")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between polls.", min=0.05)] = 1.0,
    polls: Annotated[int, typer.Option(help="Stop after this many polls (0: follow until interrupted).",
                                       min=0)] = 0,
    last: Annotated[int, typer.Option(help="Events shown at start.", min=0, max=1000)] = 10,
    as_json: cli_client.JsonOpt = False,
) -> None:
    """Print the last events, then each new one as it is committed (polls GET /v1/events)."""
    types = type_ or []
    seen: set[str] = set()
    since: str | None = None
    n = 0
    try:
        while True:
            found = newest(types, account, since, max(last, 100) if n else max(last, 1))
            fresh = [e for e in found if e["event_id"] not in seen]
            if n == 0:
                fresh = fresh[-last:] if last else []
                seen.update(e["event_id"] for e in found)
            for e in fresh:
                seen.add(e["event_id"])
                typer.echo(json.dumps(e, sort_keys=True) if as_json else line(e))
            if found:
                since = found[-1]["occurred_at"]
            n += 1
            if polls and n >= polls:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return


def register(cli: typer.Typer) -> None:
    cli.add_typer(events_cli, name="events")
