"""Imports every job module so that each registers itself (contract order = tie order at one instant)."""

from chalicelib.jobs import (  # noqa: F401
    arrears_enforcement,
    expiry_enforcement,
    expiry_warnings,
    monthly_settlement,
    notification_dispatch,
    push_quota_billing,
    reclamation,
    renewal_batches,
)
