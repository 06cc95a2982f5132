"""Business errors, each naming the contract's error code (api-contract.md, Errors). They carry no
transport: the API maps each class to its HTTP status (api/http.py, STATUS)."""

from __future__ import annotations


class BillingError(Exception):
    code = "invalid_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequest(BillingError):
    code = "invalid_request"


class Unauthorized(BillingError):
    code = "unauthorized"


class InsufficientBalanceError(BillingError):
    code = "insufficient_balance"


class Forbidden(BillingError):
    code = "forbidden"


class NotFound(BillingError):
    code = "not_found"


class Conflict(BillingError):
    code = "conflict"


class Gone(BillingError):
    code = "gone"


class Busy(BillingError):
    """An item stayed too contended to write; nothing changed: the caller may retry after a moment."""

    code = "busy"
