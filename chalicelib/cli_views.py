"""Operator views on the command line, over the HTTP API (IMBILL_URL, IMBILL_TOKEN): readable tables
(rich) or the API's JSON with --json. Registered on the `imbill` typer app by chalicelib/cli.py."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

DEFAULT_URL = "http://127.0.0.1:8000"
Transport = Callable[..., tuple[int, Any]]  # (method, path with query[, JSON body]) -> (status, JSON)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]


def http_transport(method: str, path: str, body: Any = None) -> tuple[int, Any]:
    base = os.environ.get("IMBILL_URL", DEFAULT_URL).rstrip("/")
    token = os.environ.get("IMBILL_TOKEN")
    if not token:
        raise _fail("IMBILL_TOKEN is not set (an operator token: `imbill serve` prints one, `imbill token`)")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, method=method, headers=headers, data=data)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"null")
        except ValueError:
            return err.code, None
    except (urllib.error.URLError, OSError) as err:
        raise _fail(f"cannot reach {base} ({err}); is `imbill serve` running? (IMBILL_URL)") from None


transport: Transport = http_transport  # tests point this at the Chalice test client


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def get(path: str, **query: Any) -> Any:
    params = {k.rstrip("_"): v for k, v in query.items() if v is not None}
    status, body = transport("GET", path + (f"?{urllib.parse.urlencode(params)}" if params else ""))
    if status >= 400:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        raise _fail(f"{err.get('message', 'request failed')} ({err.get('code', 'error')}, HTTP {status})")
    return body


def show(data: Any, as_json: bool, title: str, columns: Sequence[tuple[str, Callable[[Any], Any]]],
         rows: list[Any] | None = None) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console  # imported here: `import chalicelib.cli` stays cheap
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for head, _ in columns:
        table.add_column(head, overflow="fold")
    items = rows if rows is not None else data["items"]
    for row in items:
        table.add_row(*("—" if (v := cell(row)) is None else str(v) for _, cell in columns))
    console = Console()
    console.print(table)
    if not items:
        console.print("(none)")
    if isinstance(data, dict) and data.get("next_token"):
        console.print(f"more: --next-token {data['next_token']}")


accounts_cli = typer.Typer(help="Accounts (operator).", no_args_is_help=True)
ACCOUNT_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("account", lambda a: a["account_id"]), ("e-mail", lambda a: a["email"]), ("status", lambda a: a["status"]),
    ("cash", lambda a: a["balance"]["cash"]), ("gift", lambda a: a["balance"]["gift"]),
    ("total", lambda a: a["balance"]["total"]), ("apps", lambda a: a["apps_count"]),
    ("created", lambda a: a["created_at"]),
]


@accounts_cli.command("list")
def accounts_list(
    status: Annotated[str | None, typer.Option(help="active or arrears.")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Account id or e-mail prefix.")] = None,
    limit: Annotated[int, typer.Option(help="Page size.")] = 50,
    next_token: Annotated[str | None, typer.Option(help="The next page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Accounts by status and/or id or e-mail prefix."""
    data = get("/v1/accounts", status=status, q=q, limit=limit, next_token=next_token)
    show(data, as_json, "Accounts", ACCOUNT_COLUMNS)


@accounts_cli.command("show")
def accounts_show(account_id: Annotated[str, typer.Argument(help="Account id.")], as_json: JsonOpt = False) -> None:
    """One account: balance, apps, the last ledger entries."""
    base = f"/v1/accounts/{urllib.parse.quote(account_id, safe='')}"
    acct = get(base)
    apps = get(f"{base}/apps", limit=100)
    ledger = get(f"{base}/ledger", limit=1000)
    if as_json:
        typer.echo(json.dumps({"account": acct, "apps": apps["items"], "ledger": ledger["items"]}, indent=2))
        return
    show({"items": [acct]}, False, f"Account {account_id}", ACCOUNT_COLUMNS)
    show(apps, False, "Apps", [
        ("sdkappid", lambda a: a["sdkappid"]), ("name", lambda a: a["name"]), ("edition", lambda a: a["edition"]),
        ("status", lambda a: a["status"]), ("expires", lambda a: a["expires_at"]),
        ("auto-renew", lambda a: "on" if a["auto_renew"] else "off"),
    ])
    show(ledger, False, "Ledger (last 20)", [
        ("at", lambda e: e["at"]), ("kind", lambda e: e["kind"]), ("cash", lambda e: e["cash"]),
        ("gift", lambda e: e["gift"]), ("balance cash", lambda e: e["balance_cash"]),
        ("balance gift", lambda e: e["balance_gift"]), ("ref", lambda e: e["ref"]),
    ], rows=ledger["items"][-20:])


def bills(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    period: Annotated[str | None, typer.Option(help="2026-05 or 2026-05-10.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """An account's postpaid bills, one row per line."""
    data = get(f"/v1/accounts/{urllib.parse.quote(account_id, safe='')}/bills", period=period, limit=1000)
    rows = [{**line, "bill": b} for b in data["items"] for line in b["lines"]]
    show(data, as_json, f"Bills of {account_id}", [
        ("bill", lambda r: r["bill"]["bill_id"]), ("period", lambda r: r["bill"]["period"]),
        ("posted", lambda r: r["bill"]["posted_at"]), ("sdkappid", lambda r: r["sdkappid"]),
        ("item", lambda r: r["item"]), ("quantity", lambda r: r["quantity"]),
        ("unit price", lambda r: r["unit_price"]), ("amount", lambda r: r["amount"]),
        ("bill total", lambda r: r["bill"]["total"]),
    ], rows=rows)


def due(
    job: Annotated[str | None, typer.Option(help="One job (default: every job).")] = None,
    before: Annotated[str | None, typer.Option(help="ISO instant (default: 7 days from the service clock).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many items.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """What each job will act on at or before an instant."""
    data = get("/v1/ops/due", job=job, before=before, limit=limit)
    show(data, as_json, "Due work", [
        ("due", lambda d: d["due_at"]), ("job", lambda d: d["job"]),
        ("app/account", lambda d: d.get("sdkappid") if d.get("sdkappid") is not None else d.get("account_id")),
        ("reason", lambda d: d["reason"]),
    ])


def revenue(
    from_: Annotated[str | None, typer.Option("--from", help="First month YYYY-MM (default: 12 months back).")] = None,
    to: Annotated[str | None, typer.Option(help="Last month YYYY-MM (default: this month).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Revenue by month (billing zone)."""
    data = get("/v1/ops/revenue", from_=from_, to=to)
    keys = ("month", "prepaid_sales", "refunds", "credits", "postpaid_bills", "net")
    show(data, as_json, "Revenue by month", [(key.replace("_", " "), _field(key)) for key in keys])


def _field(key: str) -> Callable[[Any], Any]:
    return lambda row: row[key]


def job_runs(
    job: Annotated[str | None, typer.Option(help="One job (default: every job).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Job runs, newest first."""
    data = get("/v1/ops/job-runs", job=job, limit=limit)
    show(data, as_json, "Job runs", [
        ("job", lambda r: r["job"]), ("as of", lambda r: r["at"]), ("started", lambda r: r["started_at"]),
        ("finished", lambda r: r["finished_at"]),
        ("summary", lambda r: ", ".join(f"{k} {v}" for k, v in r["summary"].items())),
        ("failed", lambda r: r["failed"]),
    ])


def register(cli: typer.Typer) -> None:
    cli.add_typer(accounts_cli, name="accounts")
    cli.command("bills")(bills)
    cli.command("due")(due)
    cli.command("revenue")(revenue)
    cli.command("job-runs")(job_runs)
