"""JWT (HS256) bearer auth: `sub` is the account id of a customer, `role` one of three."""

from __future__ import annotations

import time

import jwt

from chalicelib.config import settings
from chalicelib.domain.errors import Unauthorized
from chalicelib.services.context import Principal

ROLES = ("customer", "operator", "service")


def mint_token(role: str, account_id: str | None = None, *, ttl_seconds: int = 86400 * 30) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if role == "customer" and not account_id:
        raise ValueError("a customer token needs --account")
    claims = {"sub": account_id or role, "role": role, "exp": int(time.time()) + ttl_seconds}
    return jwt.encode(claims, settings().auth_secret, algorithm="HS256")


def principal_from_header(header: str | None) -> Principal:
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("an Authorization: Bearer <JWT> header is required")
    token = header[len("Bearer ") :].strip()
    try:
        claims = jwt.decode(
            token, settings().auth_secret, algorithms=["HS256"], options={"require": ["exp", "sub", "role"]}
        )
    except jwt.PyJWTError as err:
        raise Unauthorized(f"invalid token: {err}") from None
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthorized("invalid token: unknown role")
    return Principal(role=role, account_id=str(claims["sub"]) if role == "customer" else None)
