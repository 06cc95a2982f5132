"""Imports every job module so that each registers itself (order = tie order at one instant)."""
