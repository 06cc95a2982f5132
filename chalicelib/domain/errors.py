"""Business errors, each carrying the contract's status and code (api-contract.md, Errors)."""

from __future__ import annotations


class BillingError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequest(BillingError):
    status, code = 400, "invalid_request"


class Unauthorized(BillingError):
    status, code = 401, "unauthorized"


class InsufficientBalanceError(BillingError):
    status, code = 402, "insufficient_balance"


class Forbidden(BillingError):
    status, code = 403, "forbidden"


class NotFound(BillingError):
    status, code = 404, "not_found"


class Conflict(BillingError):
    status, code = 409, "conflict"


class Gone(BillingError):
    status, code = 410, "gone"


class Busy(BillingError):
    """An item stayed too contended to write; nothing changed. Answered with Retry-After."""

    status, code = 503, "busy"
    retry_after = 1  # seconds
