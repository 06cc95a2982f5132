"""OpenAPI operationIds are identifiers a client generator can use (the handlers' names, camelCased)."""

from __future__ import annotations

import re


def test_operation_ids_are_unique_camel_case_names() -> None:
    import app  # noqa: F401  (registers every route)
    from chalicelib.api.openapi import document

    ids = [op["operationId"] for ops in document()["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", i) for i in ids), ids
    assert {"createAccount", "getAccount", "createApp", "purchaseEdition", "refundPackage", "topUpAccount",
            "reportLogins", "listPendingNotifications", "runJob"} <= set(ids)
