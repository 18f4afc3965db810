"""Which service URLs Steward talks to, and how a Bot Connector URL is built from one.

An activity names its own ``serviceUrl``, and Steward answers there, later posts there,
and sends its Bot Connector token there. So the token goes only to the hosts in
TEAMS_SERVICE_HOSTS (the Bot Framework's own, by default), over https unless the host is
loopback (the tests' fake); anonymous development mode talks to loopback only. Every
segment of a connector path is percent-encoded: an id cannot climb to another path.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

LOCALHOST = "localhost"


def is_loopback_host(host: str | None) -> bool:
    """Whether an address (``127.0.0.1``, ``::1``, ``localhost``) is this machine's loopback."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == LOCALHOST:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name other than localhost may resolve anywhere
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def is_loopback_url(url: str) -> bool:
    """An http(s) URL whose host is loopback (the Bot Framework Emulator, Agents Playground)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and is_loopback_host(parts.hostname)
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ServiceHosts:
    """The hosts trusted with the connector token: ``host``, ``*.domain`` or ``host:port``."""

    patterns: tuple[str, ...]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> ServiceHosts:
        return cls(tuple(p.strip().lower() for p in patterns if p.strip()))

    def allows(self, url: str) -> bool:
        """Whether ``url`` is https (or loopback) on one of the hosts."""
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return False
        if not host or parts.username is not None or parts.password is not None:
            return False
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_host(host)):
            return False
        return any(_matches(pattern, host, port) for pattern in self.patterns)


def _matches(pattern: str, host: str, port: int | None) -> bool:
    name, _, pinned = pattern.rpartition(":") if pattern.count(":") == 1 else (pattern, "", "")
    if pinned and not pinned.isdigit():
        return False
    if pinned and port != int(pinned):
        return False
    if name.startswith("*."):
        return host.endswith(name[1:])
    return host == name


def segment(value: str) -> str:
    """One path segment, percent-encoded so that it stays one (``.`` and ``..`` too)."""
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def connector_url(service_url: str, *segments: str) -> str:
    """``<serviceUrl>/v3/conversations/<segments...>``, each segment encoded.

    httpx sends the percent-escapes as they are (``%2F``, ``%2E%2E``): unlike aiohttp's
    URL handling it does not decode them and then resolve ``..`` against the path.
    """
    base = urlsplit(service_url)
    path = base.path.rstrip("/") + "/v3/conversations"
    return f"{base.scheme}://{base.netloc}{path}" + "".join(f"/{segment(s)}" for s in segments)
