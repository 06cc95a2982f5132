"""JWT (HS256) bearer auth: `sub` is the account id of a customer, `role` one of three.

HS256 is HMAC-SHA256 over base64url(header).base64url(claims): done with the standard library so
the Lambda cold start does not import a crypto stack it never uses (PyJWT verifies it in tests)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from chalicelib.config import auth_secret, settings
from chalicelib.domain.errors import Unauthorized
from chalicelib.services.context import Principal

ROLES = ("customer", "operator", "service")
UNNAMED_OPERATOR = "operator"  # the sub of an operator token minted without --name: local stage only
_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict[str, Any], secret: str) -> str:
    signing = f"{_b64(json.dumps(_HEADER, separators=(',', ':')).encode())}." \
              f"{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(sig)}"


def decode(token: str, secret: str, now: float) -> dict[str, Any]:
    try:
        head, body, sig = token.split(".")
        header = json.loads(_unb64(head))
        claims = json.loads(_unb64(body))
        given = _unb64(sig)
    except (ValueError, UnicodeDecodeError):
        raise Unauthorized("invalid token: malformed") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise Unauthorized("invalid token: only HS256 is accepted")
    expected = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        raise Unauthorized("invalid token: bad signature")
    if not isinstance(claims, dict) or not all(k in claims for k in ("exp", "sub", "role")):
        raise Unauthorized("invalid token: exp, sub and role are required")
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= now:
        raise Unauthorized("invalid token: expired")
    return claims


def mint_token(role: str, account_id: str | None = None, *, ttl_seconds: int = 86400 * 30,
               name: str | None = None) -> str:
    """A token for the configured secret; an operator's `name` is its `sub` (the actor of its events)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if role == "customer" and not account_id:
        raise ValueError("a customer token needs --account")
    if name is not None and role != "operator":
        raise ValueError("--name names an operator")
    # token lifetimes are real time, not billing time: the wall clock is right here
    claims = {"sub": account_id or name or role, "role": role, "exp": int(time.time()) + ttl_seconds}
    return encode(claims, auth_secret())


def principal_from_header(header: str | None) -> Principal:
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("an Authorization: Bearer <JWT> header is required")
    claims = decode(header[len("Bearer ") :].strip(), auth_secret(), time.time())
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthorized("invalid token: unknown role")
    sub = str(claims["sub"])
    if role == "operator" and sub == UNNAMED_OPERATOR and settings().stage != "local":
        raise Unauthorized("invalid token: an operator token must name its person "
                           "(imbill token --role operator --name <name>)")
    return Principal(role=role, account_id=sub if role == "customer" else None, sub=sub)
