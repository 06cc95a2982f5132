"""Operator views and actions on the command line, over the HTTP API (IMBILL_URL, IMBILL_TOKEN): readable
tables (rich, never splitting a value: a table wider than the terminal keeps its lines long) or the API's
JSON with --json; write commands send one Idempotency-Key per invocation (--idempotency-key to retry one
safely). Registered on the `imbill` typer app by chalicelib/cli.py."""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

DEFAULT_URL = "http://127.0.0.1:8000"
# (method, path with query, JSON body or None, extra headers) -> (status, JSON, or text for text/csv)
Transport = Callable[..., tuple[int, Any]]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]


def http_transport(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    base = os.environ.get("IMBILL_URL", DEFAULT_URL).rstrip("/")
    token = os.environ.get("IMBILL_TOKEN")
    if not token:
        raise _fail("IMBILL_TOKEN is not set (an operator token: `imbill serve` prints one, `imbill token`)")
    sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            if r.headers.get_content_type() == "text/csv":
                return r.status, raw.decode("utf-8")
            return r.status, json.loads(raw or b"null")
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


def _answer(status: int, body: Any, hint: str = "") -> Any:
    if status >= 400:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        raise _fail(f"{err.get('message', 'request failed')} ({err.get('code', 'error')}, HTTP {status}){hint}")
    return body


def get(path: str, **query: Any) -> Any:
    params = {k.rstrip("_"): v for k, v in query.items() if v is not None}
    return _answer(*transport("GET", path + (f"?{urllib.parse.urlencode(params)}" if params else ""), None, {}))


def every(path: str, **query: Any) -> dict[str, Any]:
    """Every page of a list (following next_token), as one list answer."""
    items: list[Any] = []
    token = None
    while True:
        page = get(path, **query, limit=1000, next_token=token)
        items += page["items"]
        token = page.get("next_token")
        if not token:
            return {"items": items, "next_token": None}


def send(method: str, path: str, body: Any, key: str | None) -> Any:
    """A create or a money move with an Idempotency-Key (the one given, else a new one): run again
    with the same key, it answers the first result instead of acting twice."""
    key = key or secrets.token_hex(16)
    try:
        status, answer = transport(method, path, body, {"Idempotency-Key": key})
    except typer.Exit:
        typer.secho(f"retry safely with --idempotency-key {key}", err=True)
        raise
    return _answer(status, answer, f"; retry safely with --idempotency-key {key}" if status >= 500 else "")


def one(item: Any, as_json: bool, title: str, columns: Sequence[tuple[str, Callable[[Any], Any]]]) -> None:
    """The API's answer of one write: its JSON, or a one-row table."""
    show(item if as_json else {"items": [item]}, as_json, title, columns)


def quoted(value: Any) -> str:
    return urllib.parse.quote(str(value), safe="")


KeyOpt = Annotated[str | None, typer.Option("--idempotency-key",
                                            help="Reuse the key of an earlier attempt: it acts at most once.")]


def show(data: Any, as_json: bool, title: str, columns: Sequence[tuple[str, Callable[[Any], Any]]],
         rows: list[Any] | None = None) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console  # imported here: `import chalicelib.cli` stays cheap
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for head, _ in columns:
        table.add_column(head, no_wrap=True)  # an id or an amount is never split across lines
    items = rows if rows is not None else data["items"]
    for row in items:
        table.add_row(*("—" if (v := cell(row)) is None else str(v) for _, cell in columns))
    console = Console()
    wide = console.measure(table, options=console.options.update_width(10_000)).maximum
    if wide > console.width:  # wider than the terminal: long lines rather than cut or folded values
        console = Console(width=wide)
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


LEDGER_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("at", lambda e: e["at"]), ("kind", lambda e: e["kind"]), ("cash", lambda e: e["cash"]),
    ("gift", lambda e: e["gift"]), ("balance cash", lambda e: e["balance_cash"]),
    ("balance gift", lambda e: e["balance_gift"]), ("ref", lambda e: e["ref"]),
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
    base = f"/v1/accounts/{quoted(account_id)}"
    acct = get(base)
    apps = get(f"{base}/apps", limit=100)
    ledger = get(f"{base}/ledger", order="newest", limit=20)
    if as_json:
        typer.echo(json.dumps({"account": acct, "apps": apps["items"], "ledger": ledger["items"]}, indent=2))
        return
    show({"items": [acct]}, False, f"Account {account_id}", ACCOUNT_COLUMNS)
    show(apps, False, "Apps", [
        ("sdkappid", lambda a: a["sdkappid"]), ("name", lambda a: a["name"]), ("edition", lambda a: a["edition"]),
        ("status", lambda a: a["status"]), ("expires", lambda a: a["expires_at"]),
        ("auto-renew", lambda a: "on" if a["auto_renew"] else "off"),
    ])
    show(ledger, False, "Ledger (newest 20, newest first)", LEDGER_COLUMNS)


@accounts_cli.command("create")
def accounts_create(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    email: Annotated[str, typer.Option(help="Billing e-mail.")],
    phone: Annotated[str, typer.Option(help="Phone for SMS notices, e.g. +15550100.")],
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an account (operator)."""
    out = send("POST", "/v1/accounts", {"account_id": account_id, "email": email, "phone": phone}, key)
    one(out, as_json, f"Account {account_id} created", ACCOUNT_COLUMNS)


def topup(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    amount: Annotated[str, typer.Argument(help="Amount, e.g. 100.00.")],
    gift: Annotated[bool, typer.Option("--gift", help="Gift credit instead of cash.")] = False,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add cash (or --gift credit) to an account (operator)."""
    out = send("POST", f"/v1/accounts/{quoted(account_id)}/topups",
               {"amount": amount, "kind": "gift" if gift else "cash"}, key)
    one(out, as_json, f"Top-up of {account_id}", [
        ("kind", lambda o: "gift" if gift else "cash"), ("cash", lambda o: o["entry"]["cash"]),
        ("gift", lambda o: o["entry"]["gift"]), ("balance cash", lambda o: o["balance"]["cash"]),
        ("balance gift", lambda o: o["balance"]["gift"]), ("total", lambda o: o["balance"]["total"]),
    ])


vouchers_cli = typer.Typer(help="Vouchers (operator).", no_args_is_help=True)


@vouchers_cli.command("grant")
def vouchers_grant(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    amount: Annotated[str, typer.Argument(help="Amount, e.g. 50.00.")],
    expires_at: Annotated[str | None, typer.Option(help="ISO instant it expires (default: never).")] = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Grant a voucher to an account."""
    body = {"amount": amount, **({"expires_at": expires_at} if expires_at else {})}
    out = send("POST", f"/v1/accounts/{quoted(account_id)}/vouchers", body, key)
    one(out, as_json, f"Voucher of {account_id}", [
        ("voucher", lambda v: v["voucher_id"]), ("amount", lambda v: v["amount"]),
        ("expires", lambda v: v["expires_at"]),
    ])


apps_cli = typer.Typer(help="Apps (operator).", no_args_is_help=True)
APP_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("sdkappid", lambda a: a["sdkappid"]), ("account", lambda a: a["account_id"]), ("name", lambda a: a["name"]),
    ("edition", lambda a: a["edition"]), ("status", lambda a: a["status"]), ("expires", lambda a: a["expires_at"]),
]


@apps_cli.command("create")
def apps_create(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    name: Annotated[str, typer.Option(help="App name.")],
    region: Annotated[str, typer.Option(help="Region.")] = "eu",
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an app on the Developer edition."""
    out = send("POST", f"/v1/accounts/{quoted(account_id)}/apps", {"name": name, "region": region}, key)
    one(out, as_json, "App created", APP_COLUMNS)


@apps_cli.command("delete")
def apps_delete(
    sdkappid: Annotated[int, typer.Argument(help="SDKAppID.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Reclaim a disabled or stopped app at once (its data is deleted; a tombstone stays)."""
    if not yes:
        typer.confirm(f"Delete app {sdkappid} now? This cannot be undone", abort=True)
    out = send("DELETE", f"/v1/apps/{sdkappid}", None, None)
    one(out, as_json, "App deleted", APP_COLUMNS)


def statements(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    month: Annotated[str, typer.Option(help="Local month YYYY-MM (billing zone).")],
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the statement as CSV.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A month's statement: opening and closing balance, every ledger entry, every bill posted."""
    path = f"/v1/accounts/{quoted(account_id)}/statements/{quoted(month)}"
    if as_csv:
        typer.echo(get(path, format="csv"), nl=False)
        return
    st = get(path)
    if as_json:
        typer.echo(json.dumps(st, indent=2))
        return
    show({"items": [st]}, False, f"Statement {month} of {account_id} ({st['zone']})", [
        (f"{which} {kind}", _pick(which, kind)) for which in ("opening", "moved", "closing")
        for kind in ("cash", "gift")])
    show({"items": st["entries"]}, False, "Ledger entries", LEDGER_COLUMNS)
    bill_lines(st["bills"])


def _pick(which: str, kind: str) -> Callable[[Any], Any]:
    return lambda st: st[which][kind]


def bills(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    period: Annotated[str | None, typer.Option(help="2026-05 or 2026-05-10.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """An account's postpaid bills, one row per line."""
    data = every(f"/v1/accounts/{quoted(account_id)}/bills", period=period)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    bill_lines(data["items"], f"Bills of {account_id}")


def bill_lines(items: list[dict[str, Any]], title: str = "Bills posted") -> None:
    rows = [{**line, "bill": b} for b in items for line in b["lines"]]
    show({"items": rows}, False, title, [
        ("bill", lambda r: r["bill"]["bill_id"]), ("period", lambda r: r["bill"]["period"]),
        ("posted", lambda r: r["bill"]["posted_at"]), ("sdkappid", lambda r: r["sdkappid"]),
        ("item", lambda r: r["item"]), ("quantity", lambda r: r["quantity"]),
        ("unit price", lambda r: r["unit_price"]), ("amount", lambda r: r["amount"]),
        ("bill total", lambda r: r["bill"]["total"]),
    ])


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
    cli.add_typer(vouchers_cli, name="vouchers")
    cli.add_typer(apps_cli, name="apps")
    cli.command("topup")(topup)
    cli.command("statements")(statements)
    cli.command("bills")(bills)
    cli.command("due")(due)
    cli.command("revenue")(revenue)
    cli.command("job-runs")(job_runs)
