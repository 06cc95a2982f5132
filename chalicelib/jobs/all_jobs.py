"""Imports every job module so that each registers itself (contract order = tie order at one instant)."""

from chalicelib.jobs import expiry_enforcement, expiry_warnings, reclamation  # noqa: F401
