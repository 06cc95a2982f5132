"""Pydantic models: they validate requests and generate the OpenAPI document."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    StrictBool,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, core_schema

from chalicelib.config import default_catalog as catalog
from chalicelib.domain.calendar import parse_instant
from chalicelib.domain.money import Cents, InvalidAmount, parse_amount

# Every pattern below is checked by the server exactly as the OpenAPI document states it (the same
# string, anchored), with ASCII digits only: what the document calls valid, the server accepts.
PRINTABLE = "[^\\x00-\\x1f\\x7f-\\x9f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]"  # no control, no bidi
ID_PATTERN = f"^{PRINTABLE}{{1,128}}$"


@dataclass(frozen=True)
class Text:
    """Annotated[str, Text(...)]: a string matching `pattern` (anchored) of at most `max_length`
    characters, else a 400 saying `what`; the document shows the same pattern and bounds."""

    pattern: str
    what: str
    max_length: int = 128

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        rx = re.compile(self.pattern)

        def check(value: Any) -> str:
            if not isinstance(value, str) or len(value) > self.max_length or not rx.fullmatch(value):
                raise ValueError(self.what)
            return value

        return core_schema.no_info_plain_validator_function(check)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "string", "pattern": self.pattern, "minLength": 1, "maxLength": self.max_length,
                "description": self.what}


@dataclass(frozen=True)
class Whole:
    """Annotated[int, Whole(lo, hi)]: a JSON integer from lo to hi; as in JSON Schema, a number
    whose value is whole (3.0) is that integer, one with a fraction (1.5), a string or a bool is a 400.
    Bodies are parsed with exact decimals (api.http.parse_json): 3.0000000000000000001 has a fraction."""

    ge: int
    le: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        what = f"a whole number from {self.ge} to {self.le}"

        def check(value: Any) -> int:
            value = _whole_number(value)
            if not isinstance(value, int) or isinstance(value, bool) or not self.ge <= value <= self.le:
                raise ValueError(what)
            return value

        return core_schema.no_info_plain_validator_function(check)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.ge, "maximum": self.le}


@dataclass(frozen=True)
class _AtLeast(Whole):
    """A whole number from `ge` whose minimum is a catalog number the service checks against the
    catalog in force (a 400 below it); the document states that of the catalog it was generated from."""

    minimum: int = 0

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.le}


Id = Annotated[str, Text(ID_PATTERN, "1 to 128 characters, no control or bidi-override characters")]
Name = Id
ACCOUNT_ID_PATTERN = "^[A-Za-z0-9_.-]{1,128}$"
AccountId = Annotated[str, Text(ACCOUNT_ID_PATTERN, "1 to 128 letters, digits, '_', '.' or '-'")]
Email = Annotated[str, Text(
    "^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    "(?:[.][A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
    "an e-mail address (local@domain, ASCII)", max_length=254,
)]
Phone = Annotated[str, Text("^[+]?[0-9](?:[ -]?[0-9]){2,19}$",
                            "a phone number: optional +, 3 to 20 digits, single spaces or hyphens", max_length=40)]

POSITIVE_AMOUNT = "^(?:[1-9][0-9]{0,11}(?:[.][0-9]{1,2})?|0[.](?:[1-9][0-9]?|0[1-9]))$"
MAX_WHOLE = 999_999_999_999
_AMOUNT_RX = re.compile(POSITIVE_AMOUNT)
AMOUNT_TEXT = ('a positive amount: a decimal string with at most two places and ASCII digits, e.g. "399.00" '
               f"(or a JSON integer from 1 to {MAX_WHOLE})")


def _whole_number(value: Any) -> Any:
    """A JSON number whose exact value is whole (3.0, 1e2) as that int; anything else unchanged.
    Exact: the body's numbers are Decimals (api.http.parse_json), never floats that round."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value() \
            and value.adjusted() < 20:
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _positive_amount(value: Any) -> str | int:
    if isinstance(value, str) and _AMOUNT_RX.fullmatch(value):
        return value
    value = _whole_number(value)  # 100.0 is the JSON integer 100 (as in JSON Schema); 1.5 stays a 400
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_WHOLE:
        return value
    raise ValueError(AMOUNT_TEXT)


Amount = Annotated[
    str | int,
    PlainValidator(_positive_amount),
    WithJsonSchema({
        "anyOf": [
            {"type": "string", "pattern": POSITIVE_AMOUNT},
            {"type": "integer", "minimum": 1, "maximum": MAX_WHOLE},
        ],
        "description": AMOUNT_TEXT,
    }),
]
FIRST_YEAR, LAST_YEAR = 1970, 9000  # room for month and day arithmetic on either side
# The document's years (1971-8999) keep any offset inside the server's range.
_MONTH_DAY = ("(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
              "|(?:0[13578]|1[02])-31)")


def date_pattern(years: str, millennia: str, centuries: str) -> str:
    """A calendar date that exists (Feb 29 in leap years only), years matching `years`; `millennia`
    and `centuries` are the leap years' first digit and the leap centuries (years / 100) in range."""
    leap = (f"(?:19(?:7[26]|8[048]|9[26])|{millennia}[0-9](?:0[48]|[2468][048]|[13579][26])"
            f"|{centuries}00)")
    return f"(?:{years}-{_MONTH_DAY}|{leap}-02-29)"


INSTANT_DATE = date_pattern("(?:19[7-9][1-9]|19[89]0|[2-8][0-9]{3})", "[2-8]", "(?:[2468][048]|[357][26])")
INSTANT_PATTERN = (
    f"^{INSTANT_DATE}"
    "T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.][0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
_INSTANT_RX = re.compile(
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.][0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)
INSTANT_TEXT = "an ISO-8601 instant with seconds and a zone, e.g. 2026-03-01T00:00:00Z"


def _valid_instant(value: Any) -> str:
    if not isinstance(value, str) or not _INSTANT_RX.fullmatch(value):
        raise ValueError(INSTANT_TEXT)
    parsed = instant(value)
    if parsed is not None and not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise ValueError(f"instants must lie in the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


Instant = Annotated[
    str,
    PlainValidator(_valid_instant),
    WithJsonSchema({"type": "string", "pattern": INSTANT_PATTERN, "description": INSTANT_TEXT}),
]


# defer_build: a model's validator and serializer are built at its first use (a request's body,
# the OpenAPI document), not when `import app` defines some 60 models on a cold start.
class Request(BaseModel):
    """A request body: a field the model does not have is a 400 naming it (not silently ignored)."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class Reply(BaseModel):
    """An answer's shape: only the OpenAPI document reads it."""

    model_config = ConfigDict(defer_build=True)


def cents(value: str | int) -> Cents:
    try:
        return parse_amount(value)
    except InvalidAmount as err:
        raise ValueError(str(err)) from None


def instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as err:
        raise ValueError(f"not an ISO-8601 instant with a zone: {value!r} ({err})") from None


class AccountCreate(Request):
    account_id: AccountId
    email: Email
    phone: Phone


class TopupCreate(Request):
    amount: Amount
    kind: Literal["cash", "gift"]


class VoucherCreate(Request):
    amount: Amount
    expires_at: Instant | None = Field(default=None, description="when it expires (not in the past); none: never")


class AppCreate(Request):
    name: Name
    region: Annotated[str, Text(f"^{PRINTABLE}{{1,64}}$", "1 to 64 characters, no control or bidi-override characters",
                                max_length=64)]


# Products are the catalog's: a request names one by its catalog name, and the service checks it
# against the catalog in force (400 when unknown or not for sale); the document lists today's.
PRODUCT_PATTERN = "^[a-z0-9_]{1,64}$"
_CATALOG = catalog()


@dataclass(frozen=True)
class _Name(Text):
    """A catalog name: checked here only for its form; the service checks it against the catalog in
    force (400 when unknown). The document lists the names of the catalog it was generated from."""

    names: tuple[str, ...] = ()

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.names), "description": self.what}


def _name(what: str, names: tuple[str, ...] | list[str]) -> _Name:
    return _Name(PRODUCT_PATTERN, f"{what} of the catalog", max_length=64, names=tuple(names))


# months: the widest range the catalog sells anything for; each product's own range is checked too
Months = Annotated[int, Whole(*_CATALOG.months_bounds)]
Edition = Annotated[str, _name("a purchasable edition", _CATALOG.purchasable_editions)]
EditionName = Annotated[str, _name("an edition", _CATALOG.editions)]
PluginName = Annotated[str, _name("a plugin", list(_CATALOG.spec.plugins))]
METER_PATTERN = "^[a-z0-9_]{1,64}[.][a-z0-9_]{1,64}$"
MeterKey = Annotated[str, _Name(METER_PATTERN, 'a monthly usage meter of the catalog, "<plugin>.<meter>"', 129,
                                tuple(_CATALOG.usage_meters))]
AddonName = Annotated[str, _name("an add-on", list(_CATALOG.spec.addons))]


class PurchaseCreate(Request):
    edition: Edition
    months: Months
    auto_renew: StrictBool | None = None
    voucher_id: Id | None = None


class AutoRenewSet(Request):
    enabled: StrictBool


PRODUCTS = _CATALOG.products
Product = Annotated[str, _name("a product", PRODUCTS)]
TIERS = sorted({t for a in _CATALOG.spec.addons.values() for t in a.tiers})
Tier = Annotated[str, _name("a tier of the add-on", TIERS)]


class RefundCreate(Request):
    product: Product | None = Field(default=None, description="the base package (default), a plugin or an add-on")


class ClockSet(Request):
    now: Instant
    run_jobs: StrictBool = True



class ClockAdvance(Request):
    days: Annotated[int, Whole(0, 3660)] = 0
    hours: Annotated[int, Whole(0, 100000)] = 0
    minutes: Annotated[int, Whole(0, 1000000)] = 0


class NotificationRetry(Request):
    account_id: AccountId
    notification_id: Annotated[str, Text(f"^{PRINTABLE}{{1,256}}$", "1 to 256 characters, no control or bidi-override "
                                         "characters", max_length=256)]


class JobRun(Request):
    at: Instant



# ------------------------------------------------------------------ response shapes (OpenAPI)
Money = Annotated[str, Field(examples=["399.00"])]


class Balance(Reply):
    cash: Money
    gift: Money
    total: Money


class Money3(Reply):
    total: Money
    cash: Money
    gift: Money


class Account(Reply):
    account_id: str
    email: str
    phone: str
    status: Literal["active", "arrears"]
    arrears_since: str | None
    balance: Balance
    apps_count: int
    created_at: str


class App(Reply):
    sdkappid: int
    account_id: str
    name: str
    region: str
    edition: EditionName
    status: Literal["enabled", "disabled", "stopped", "reclaimed"]
    stop_reason: Literal["expired", "arrears"] | None
    created_at: str
    expires_at: str
    auto_renew: bool
    stopped_at: str | None
    disabled_at: str | None
    disabled_reason: Literal["refunded", "requested"] | None = None


class PeriodOut(Reply):
    starts_at: str
    ends_at: str
    paid_cash: Money
    paid_gift: Money


class OrderAmounts(Reply):
    """What an order (bought or quoted) charges, and for which period."""

    product: str
    kind: Literal["new", "renewal", "upgrade", "auto_renewal", "reactivation"]
    months: int
    starts_at: str
    ends_at: str
    price: Money
    voucher_amount: Money
    paid_cash: Money
    paid_gift: Money


class Order(OrderAmounts):
    order_id: str
    sdkappid: int
    status: Literal["active", "pending", "expired", "refunded"]
    periods: list[PeriodOut]


class LedgerEntry(Reply):
    entry_id: str
    at: str
    kind: Literal["topup", "purchase", "refund", "credit", "bill"]
    cash: Money
    gift: Money
    balance_cash: Money
    balance_gift: Money
    ref: str | None


class Voucher(Reply):
    voucher_id: str
    amount: Money
    expires_at: str | None
    used_by_order: str | None


class RefundQuote(Reply):
    product: str
    at: str
    current_amount: Money
    not_started_amount: Money
    used_value: Money
    total: Money
    cash: Money
    gift: Money


class PurchaseResult(Reply):
    order: Order
    app: App
    balance: Balance
    credit: Money3 | None


class PurchaseQuote(OrderAmounts):
    tier: str | None
    at: str
    credit: Money3 | None = Field(description="an upgrade's credit for the running package (added before paying)")
    amount_due: Money = Field(description="paid_cash + paid_gift - credit: what the balance pays net")
    balance_after: Balance


class RefundResult(Reply):
    refund: RefundQuote
    app: App
    balance: Balance


class TopupResult(Reply):
    balance: Balance
    entry: LedgerEntry


class Entitlements(Reply):
    sdkappid: int
    edition: str
    status: str
    in_service: bool
    limits: dict[str, Any]
    features: dict[str, bool]
    mau: dict[str, Any]
    plugins: dict[str, Any] = Field(default_factory=dict, description="plugins in force: push, search")
    addons: dict[str, Any] = Field(default_factory=dict, description="add-ons in force: desk, chatbot, call")


class Notification(Reply):
    notification_id: str
    at: str
    kind: Literal["expiry_warning", "stopped", "arrears", "reclaimed", "bill", "balance_low"]
    channel: Literal["email", "sms"]
    to: str
    sdkappid: int | None
    subject: str
    body: str
    contact_id: str = "account"




class BillLine(Reply):
    sdkappid: int
    item: str
    quantity: int
    unit_price: str
    amount: Money


class Bill(Reply):
    bill_id: str
    account_id: str
    kind: Literal["monthly", "daily"]
    period: str
    lines: list[BillLine]
    total: Money
    posted_at: str


class Statement(Reply):
    account_id: str
    month: str = Field(description="a local month of the billing zone")
    zone: str
    starts_at: str
    ends_at: str
    opening: Balance
    moved: Balance = Field(description="the sum of the month's ledger entries")
    closing: Balance = Field(description="opening + moved")
    entries: list[LedgerEntry] = Field(description="every ledger entry of the month, oldest first")
    bills: list[Bill] = Field(description="every bill posted in the month, with its lines")


class ErrorBody(Reply):
    code: str
    message: str


class Error(Reply):
    error: ErrorBody


def page_of(model: type[BaseModel]) -> type[BaseModel]:
    from pydantic import create_model

    return create_model(f"{model.__name__}Page", items=(list[model], ...), next_token=(str | None, None))  # type: ignore[valid-type]


# ------------------------------------------------------------------ usage ingestion (service, operator)
UserId = Id
Count = Annotated[int, Whole(0, 1_000_000_000_000)]


class UsageReport(Request):
    sdkappid: Annotated[int, Whole(0, 999_999_999_999)]
    at: Instant | None = Field(default=None, description="When it happened; defaults to now, never in the future")



class LoginReport(UsageReport):
    user_ids: Annotated[list[UserId], Field(min_length=1, max_length=1000)]


class PushReport(UsageReport):
    broadcast_calls: Count
    messages: Count


class SearchReport(UsageReport):
    stored_messages: Count
    requests: Count


class MeterReport(UsageReport):
    meter: MeterKey
    quantity: Count


class LoginResult(Reply):
    month: str
    mau: int
    accepted: int
    rejected_user_ids: list[str]


class PushResult(Reply):
    date: str
    quota: int
    accepted_calls: int
    rejected_calls: int
    messages_month: int


class SearchResult(Reply):
    month: str
    stored_messages: int
    requests: int


class MeterResult(Reply):
    month: str
    meter: str
    quantity: int = Field(description="the month's count of the meter after this report")


class PushUsage(Reply):
    messages: int
    broadcast_calls_today: int
    daily_quota: int
    broadcast_calls_by_day: dict[str, int]


class SearchUsage(Reply):
    stored_messages: int
    requests: int


class Usage(Reply):
    sdkappid: int
    month: str
    mau: int
    push: PushUsage
    search: SearchUsage
    meters: dict[str, int] = Field(
        default_factory=dict,
        description='the monthly meters without fields above: {"<plugin>.<meter>": count}; absent when none',
    )


class CatalogView(Reply):
    currency: str
    editions: dict[str, Any] = Field(description="{name: {monthly_price, purchasable, trial, months: [min, max]}}")
    plugins: dict[str, Any] = Field(description="{name: {monthly_price, purchasable, months, meters: {name: meter}}}")
    addons: dict[str, Any] = Field(description="{name: {purchasable, months, tiers: {name: {price}}}}")


# ------------------------------------------------------------------ plugins and add-ons
class PluginCreate(Request):
    plugin: PluginName
    months: Months


class PushQuotaSet(Request):
    daily_broadcast_calls: Annotated[
        int, _AtLeast(0, 1_000_000_000, _CATALOG.included_push_calls),
        Field(description=f"Daily broadcast/tag push API calls, at least {_CATALOG.included_push_calls}")
    ]


class PushQuota(Reply):
    daily_broadcast_calls: int


class AddonCreate(Request):
    addon: AddonName
    tier: Annotated[
        Tier,
        Field(description="desk: standard (default); chatbot: basic, advanced, message_pack; call: trial, 1v1, group"),
    ] | None = None
    quantity: Annotated[
        int, Whole(1, 100_000), Field(description="desk: seats in total (default 3); chatbot: bots or packs"),
    ] | None = None
    months: Months


# ---------------------------------------------------------------- renewal management and account controls (issue 18)
RenewalMode = Literal["auto", "manual", "none"]
SdkAppIdIn = Annotated[int, Whole(1, MAX_WHOLE)]


class RenewalSet(Request):
    product: Product
    mode: RenewalMode


class Package(Reply):
    sdkappid: int
    app_name: str
    region: str
    product: str
    tier: str | None
    expires_at: str
    renewal: RenewalMode
    monthly_price: Money
    state: Literal["active", "grace", "stopped"]


class RenewalItemIn(Request):
    sdkappid: SdkAppIdIn
    product: Product
    months: Months


class RenewalsCreate(Request):
    items: Annotated[list[RenewalItemIn], Field(min_length=1, max_length=100)]
    voucher_id: Id | None = None
    voucher_item: Annotated[int, Whole(0, 99), Field(description="index of the item the voucher pays")] | None = None


class RenewalQuoteItem(Reply):
    sdkappid: int
    product: str
    months: int
    price: Money
    voucher_amount: Money
    paid_cash: Money
    paid_gift: Money
    starts_at: str
    ends_at: str


class RenewalQuote(Reply):
    items: list[RenewalQuoteItem]
    total: Money
    cash: Money
    gift: Money
    voucher: Money
    covered: bool
    shortfall: Money


class RenewalResult(Reply):
    renewal_id: str
    orders: list[Order]
    balance: Balance


class RenewalItemReleased(Reply):
    renewal_id: str
    item: int
    sdkappid: int
    product: str
    cash: Money
    gift: Money


class AccountPatch(Request):
    email: Email | None = None
    phone: Phone | None = None


NotificationKind = Literal["expiry_warning", "stopped", "arrears", "reclaimed", "bill", "balance_low"]
Channel = Literal["email", "sms"]


class ContactIn(Request):
    contact_id: Id
    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    subscriptions: dict[NotificationKind, Annotated[list[Channel], Field(max_length=2, json_schema_extra={
        "uniqueItems": True})]] = Field(default_factory=dict, description="per kind, the channels (a channel "
                                        "without an address on the contact is not used)")


class ContactsPut(Request):
    items: Annotated[list[ContactIn], Field(max_length=11)]


class Contact(Reply):
    contact_id: str
    name: str | None
    email: str | None
    phone: str | None
    subscriptions: dict[str, list[Channel]]


class ContactList(Reply):
    items: list[Contact]


THRESHOLD_AMOUNT = "^(?:(?:0|[1-9][0-9]{0,5})(?:[.][0-9]{1,2})?|1000000(?:[.]0{1,2})?)$"  # 0.00 .. 1000000.00


class BalanceAlertSet(Request):
    threshold: Annotated[str, Text(THRESHOLD_AMOUNT, "an amount from 0.00 to 1000000.00 (a decimal string)",
                                   max_length=10)] | None


class BalanceAlert(Reply):
    threshold: Money | None
    armed: bool
