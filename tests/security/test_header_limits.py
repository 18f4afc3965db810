"""Request headers have a size limit: `steward serve` refuses a 1 MiB header quickly
(431 or 400, then closes) instead of reading and parsing it, and goes on serving."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.cli import STEWARD, environment, serving
from tests.support.server import TEST_TOKEN

MIB = 1024 * 1024
QUICK = 5.0  # seconds: reading 1 MiB on loopback and answering takes milliseconds


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real `steward serve` process, as the Procfile runs it."""
    cwd = tmp_path_factory.mktemp("serve")
    with serving(STEWARD, cwd=cwd, env=environment(STEWARD_API_TOKENS=TEST_TOKEN)) as (url, _):
        yield url


def exchange(url: str, request: bytes) -> bytes:
    """Send raw bytes on a new connection; everything the server answers before closing."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    answer = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)  # the server may stop reading: what it answered is below
        with contextlib.suppress(ConnectionResetError):  # closed with our bytes unread
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def status_of(answer: bytes) -> int:
    line = answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 else 0


def request_with_header(value_size: int) -> bytes:
    value = b"a" * value_size
    return (
        b"GET /healthz HTTP/1.1\r\nHost: steward\r\nX-Padding: "
        + value
        + b"\r\nConnection: close\r\n\r\n"
    )


def test_a_1_mib_header_is_refused_quickly_and_the_server_goes_on(served: str) -> None:
    started = time.monotonic()
    answer = exchange(served, request_with_header(MIB))
    elapsed = time.monotonic() - started
    assert status_of(answer) in (400, 431), answer[:200]
    assert elapsed < QUICK
    assert httpx.get(f"{served}/healthz", timeout=10).status_code == 200


def test_a_1_mib_header_split_over_many_headers_is_refused(served: str) -> None:
    many = b"".join(b"X-Pad-%d: %s\r\n" % (n, b"b" * 1000) for n in range(MIB // 1000))
    request = b"GET /healthz HTTP/1.1\r\nHost: steward\r\n" + many + b"Connection: close\r\n\r\n"
    assert status_of(exchange(served, request)) in (400, 431)
    assert httpx.get(f"{served}/healthz", timeout=10).status_code == 200


def test_ordinary_headers_are_still_served(served: str) -> None:
    answer = exchange(served, request_with_header(8 * 1024))  # a large cookie, say
    assert status_of(answer) == 200
