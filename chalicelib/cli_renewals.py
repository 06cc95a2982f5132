"""`imbill renewals list|quote|renew` over the HTTP API (issue 18), like chalicelib/cli_client.py: the
account's packages by expiry, a batch renewal's quote, and the batch renewal itself (with an
Idempotency-Key: run again with the same --idempotency-key, it acts at most once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from chalicelib import cli_client
from chalicelib.cli_client import JsonOpt, KeyOpt, get, quoted, send, show

renewals_cli = typer.Typer(help="Renewal management: packages by expiry, batch quote and renewal.",
                           no_args_is_help=True)

PACKAGE_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("sdkappid", lambda p: p["sdkappid"]), ("app", lambda p: p["app_name"]), ("region", lambda p: p["region"]),
    ("product", lambda p: p["product"] + (f" {p['tier']}" if p["tier"] else "")),
    ("expires", lambda p: p["expires_at"]), ("state", lambda p: p["state"]), ("renewal", lambda p: p["renewal"]),
    ("monthly", lambda p: p["monthly_price"]),
]
QUOTE_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("sdkappid", lambda i: i["sdkappid"]), ("product", lambda i: i["product"]), ("months", lambda i: i["months"]),
    ("price", lambda i: i["price"]), ("voucher", lambda i: i["voucher_amount"]), ("cash", lambda i: i["paid_cash"]),
    ("gift", lambda i: i["paid_gift"]), ("from", lambda i: i["starts_at"]), ("to", lambda i: i["ends_at"]),
]
ItemsArg = Annotated[list[str], typer.Argument(help="Items SDKAPPID:PRODUCT[:MONTHS] (months default 1), in order.")]
VoucherOpt = Annotated[str | None, typer.Option("--voucher", help="A voucher id, applied to one item.")]
VoucherItemOpt = Annotated[int | None, typer.Option("--voucher-item", help="Index of the item the voucher pays.")]


def body_of(items: list[str], voucher: str | None, voucher_item: int | None) -> dict[str, Any]:
    parsed = []
    for text in items:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[0].isdigit() or (len(parts) == 3 and not parts[2].isdigit()):
            raise cli_client._fail(f"item {text!r}: SDKAPPID:PRODUCT[:MONTHS]")
        months = int(parts[2]) if len(parts) == 3 else 1
        parsed.append({"sdkappid": int(parts[0]), "product": parts[1], "months": months})
    body: dict[str, Any] = {"items": parsed}
    if voucher is not None:
        body["voucher_id"] = voucher
    if voucher_item is not None:
        body["voucher_item"] = voucher_item
    return body


def _quote_table(quote: dict[str, Any], as_json: bool, title: str) -> None:
    show(quote, as_json, title, QUOTE_COLUMNS)
    if not as_json:
        typer.echo(f"total {quote['total']} (cash {quote['cash']}, gift {quote['gift']}, voucher {quote['voucher']}); "
                   + ("covered" if quote["covered"] else f"NOT covered: {quote['shortfall']} short"))


@renewals_cli.command("list")
def renewals_list(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    expires_after: Annotated[str | None, typer.Option(help="ISO instant: expiring at or after.")] = None,
    expires_before: Annotated[str | None, typer.Option(help="ISO instant: expiring before.")] = None,
    product: Annotated[str | None, typer.Option(help="Only this product.")] = None,
    region: Annotated[str | None, typer.Option(help="Only apps of this region.")] = None,
    renewal: Annotated[str | None, typer.Option(help="Only this mode: auto, manual or none.")] = None,
    limit: Annotated[int | None, typer.Option(help="Page size (1-1000).")] = None,
    next_token: Annotated[str | None, typer.Option(help="The next page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The account's packages sorted by expiry."""
    data = get(f"/v1/accounts/{quoted(account_id)}/packages", expires_after=expires_after,
               expires_before=expires_before, product=product, region=region, renewal=renewal, limit=limit,
               next_token=next_token)
    show(data, as_json, f"Packages of {account_id} by expiry", PACKAGE_COLUMNS)


@renewals_cli.command("quote")
def renewals_quote(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    items: ItemsArg,
    voucher: VoucherOpt = None,
    voucher_item: VoucherItemOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What a batch renewal would cost, item by item (no side effect)."""
    status, quote = cli_client.transport("POST", f"/v1/accounts/{quoted(account_id)}/renewals/quote",
                                        body_of(items, voucher, voucher_item), {})
    _quote_table(cli_client._answer(status, quote), as_json, f"Quote for {account_id}")


@renewals_cli.command("renew")
def renewals_renew(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    items: ItemsArg,
    voucher: VoucherOpt = None,
    voucher_item: VoucherItemOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not show the quote and ask first.")] = False,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Renew the items at once: all or nothing, each its own order (asks after showing the quote)."""
    body = body_of(items, voucher, voucher_item)
    path = f"/v1/accounts/{quoted(account_id)}/renewals"
    if not yes:
        status, quote = cli_client.transport("POST", f"{path}/quote", body, {})
        _quote_table(cli_client._answer(status, quote), False, f"Quote for {account_id}")
        typer.confirm(f"Renew {len(body['items'])} package(s) for {quote['total']}?", abort=True)
    out = send("POST", path, body, key)
    if as_json:
        show(out, True, "", [])
        return
    show({"items": out["orders"]}, False, f"Renewal {out['renewal_id']}", [
        ("order", lambda o: o["order_id"]), ("sdkappid", lambda o: o["sdkappid"]), ("product", lambda o: o["product"]),
        ("kind", lambda o: o["kind"]), ("from", lambda o: o["starts_at"]), ("to", lambda o: o["ends_at"]),
        ("cash", lambda o: o["paid_cash"]), ("gift", lambda o: o["paid_gift"]),
    ])
    typer.echo(f"balance {out['balance']['total']} (cash {out['balance']['cash']}, gift {out['balance']['gift']})")
