"""List endpoints page with ?limit= and an opaque next_token (the query's LastEvaluatedKey)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import QueryError

from chalicelib.domain.errors import InvalidRequest

Page = dict[str, Any]


def encode(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise InvalidRequest("next_token is not valid") from None
    if not isinstance(value, dict) or not value or not all(_key_attribute(v) for v in value.values()):
        raise InvalidRequest("next_token is not valid")
    return value


def _key_attribute(value: Any) -> bool:
    """A key attribute as DynamoDB writes it: {"S": "..."} or {"N": "<number>"}."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (kind, text), = value.items()
    if not isinstance(text, str) or kind not in ("S", "N"):
        return False
    return kind == "S" or re.fullmatch(r"-?\d{1,38}", text) is not None


def page(
    query: Callable[..., Any],
    hash_key: Any,
    render: Callable[[Any], dict[str, Any]],
    limit: int,
    token: str | None,
    consistent: bool = False,
    **kwargs: Any,
) -> Page:
    """One page of a key-condition query, oldest first, rendered."""
    result = query(
        hash_key, limit=limit, last_evaluated_key=decode(token), consistent_read=consistent, **kwargs
    )
    try:
        items = [render(x) for x in result]
    except (QueryError, TypeError, KeyError, ValueError):
        if token is None:
            raise
        raise InvalidRequest("next_token is not valid") from None  # a key of another list or partition
    return {"items": items, "next_token": encode(result.last_evaluated_key)}
