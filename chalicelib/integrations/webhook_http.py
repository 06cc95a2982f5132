"""Outbound webhook HTTP: the SSRF guard, the signature, and one POST (no redirects, a deadline,
at most 1 KB of the answer kept).

The guard resolves the URL's host and refuses it when any address it resolves to is loopback,
private, link-local (the metadata address 169.254.169.254 among them), unique-local (fc00::/7),
multicast, reserved or unspecified; outside the `local` stage the URL must be https. It runs when
an endpoint is created and again before every delivery, and the delivery connects to the address
the check resolved (not a second lookup a rebinding DNS could answer differently)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.errors import InvalidRequest

KEEP_BYTES = 1024  # of a receiver's answer
Resolver = Callable[[str, int], list[str]]


class Refused(InvalidRequest):
    """The URL may not be called (scheme, or an address the guard refuses)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked address the delivery connects to


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (A and AAAA)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise Refused(f"the host {host!r} does not resolve: {err}") from None
    return sorted({str(info[4][0]) for info in infos})


def forbidden(address: str) -> bool:
    """Loopback, private, link-local (and the metadata address), unique-local, multicast, reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or not ip.is_global)


def check_url(url: str, local: bool, resolver: Resolver = resolve) -> Target:
    """The URL's target, or Refused. `local` (the local stage) allows http and local addresses."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as err:
        raise Refused(f"the url is not valid: {err}") from None
    if parts.scheme not in (("http", "https") if local else ("https",)):
        raise Refused("the url must be https" + (" (or http in the local stage)" if local else ""))
    if parts.username or parts.password:
        raise Refused("the url may not carry credentials")
    if not host:
        raise Refused("the url has no host")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = resolver(host, port)
    if not addresses:
        raise Refused(f"the host {host!r} does not resolve")
    if not local:
        bad = [a for a in addresses if forbidden(a)]
        if bad:
            raise Refused(f"the host {host!r} resolves to an address that may not be called ({bad[0]}): "
                          "loopback, private, link-local and metadata addresses are refused")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, addresses[0])


def signature(secrets: Iterable[str], t: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, one v1 per secret (rotation overlap)."""
    signed = f"{t}.".encode() + body
    return ",".join([f"t={t}", *(f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in secrets)])


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (connection refused, timeout)
    body: str  # at most KEEP_BYTES of it
    error: str | None
    elapsed_s: float

    def delivered(self, timeout_s: float) -> bool:
        return self.status is not None and 200 <= self.status < 300 and self.elapsed_s <= timeout_s


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to the checked address, with the URL's host name for SNI and the certificate."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(target: Target, body: bytes, headers: dict[str, str], timeout_s: float,
         clock: Callable[[], float] = time.monotonic) -> Answer:
    """One POST to the checked address (redirects are not followed: a 3xx is not delivered)."""
    started = clock()
    conn: Any
    if target.scheme == "https":
        conn = _Pinned(target, timeout_s)
    else:
        conn = http.client.HTTPConnection(target.address, target.port, timeout=timeout_s)
    host = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    try:
        conn.request("POST", target.path, body=body, headers={**headers, "Host": host,
                                                              "Content-Type": "application/json",
                                                              "User-Agent": "imbill-webhooks/1"})
        resp = conn.getresponse()
        text = resp.read(KEEP_BYTES).decode("utf-8", "replace")
        return Answer(resp.status, text, None, clock() - started)
    except (OSError, http.client.HTTPException) as err:
        return Answer(None, "", f"{type(err).__name__}: {err}"[:500], clock() - started)
    finally:
        conn.close()
