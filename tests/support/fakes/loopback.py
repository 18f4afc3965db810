"""What every loopback fake shares: a real HTTP server on 127.0.0.1 in a daemon thread.

A fake subclasses :class:`LoopbackFake` and answers ``_dispatch(verb, path, headers, body)``
with a :class:`Reply`. The server reads the body (chunked too), lower-cases header names,
and answers an exception inside the fake with HTTP 500, keeping it in ``errors`` so a test
can see it. ``_lock``/``_cond`` guard the fake's state; tests block on the condition
instead of sleeping.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

logger = logging.getLogger(__name__)


@dataclass
class Reply:
    """An HTTP answer: status, body, content type and extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(data).encode(), headers=dict(headers or {}))

    @classmethod
    def text(cls, text: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, text.encode(), "text/plain; charset=utf-8", dict(headers or {}))


class LoopbackFake:
    """Start, stop and address a fake; subclasses implement ``_dispatch``."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return type(self).__name__

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"{self.name} is already running")
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"{self.name}:{server.server_address[1]}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()  # also joins the per-request handler threads
        thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"{self.name} is not running; call start() or use `with`")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _dispatch(self, verb: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError


class _Server(ThreadingHTTPServer):
    # Non-daemon handler threads, joined by server_close(), so stop() leaves nothing running.
    daemon_threads = False
    block_on_close = True
    request_queue_size = 128  # concurrent clients (listen backlog); 5 drops connections
    fake: LoopbackFake


class _Handler(BaseHTTPRequestHandler):
    server_version = "StewardFake/1.0"
    timeout = 10  # socket timeout: a stuck client cannot hang server_close()

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, verb: str) -> None:
        fake = cast(_Server, self.server).fake
        try:
            body = self._read_body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake._dispatch(verb, self.path, headers, body)
        except Exception as exc:
            with fake._cond:
                fake.errors.append(exc)
                fake._cond.notify_all()
            reply = Reply.text(f"{fake.name} error:\n{traceback.format_exc()}", 500)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline(65537).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s: " + format, cast(_Server, self.server).fake.name, *args)
