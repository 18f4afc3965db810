"""A loopback fake of an OpenAI-compatible chat completions server, for the real ``openai`` client.

``FakeOpenAI`` runs a real HTTP server on 127.0.0.1 (random port) in a daemon thread and
answers ``POST /v1/chat/completions`` with replies a test scripts, in order::

    with FakeOpenAI() as llm:
        llm.script(tool_calls(("find_accounts", {"name": "acme"})), text("Acme is at 72."))
        client = openai.OpenAI(api_key="sk-test", base_url=llm.base_url)
        ...
        assert llm.requests[1].tool_results()[0]["accounts"]

When the script is empty, ``responder`` (a function of the request) answers, if set; else
the fake answers 500. Scripted failures: ``error(429, retry_after=0.01)``, ``error(500)``;
``slow()`` holds the answer until ``release()`` (or until the fake stops), so a client's
timeout fires without the test sleeping. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a body with a status and headers, optionally held back."""

    status: int = 200
    body: Json = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    slow: bool = False


@dataclass(frozen=True)
class Request:
    """One request the fake received: the decoded body and the (lower-cased) headers."""

    body: Json
    headers: dict[str, str]
    raw: str

    @property
    def messages(self) -> list[Json]:
        return list(self.body.get("messages", []))

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools", [])]

    def tool_results(self) -> list[Any]:
        """The JSON content of every tool message, in order."""
        return [json.loads(m["content"]) for m in self.messages if m.get("role") == "tool"]

    def user_data(self) -> Json:
        """The JSON between <data> and </data> in the last user message."""
        content = next(m["content"] for m in reversed(self.messages) if m["role"] == "user")
        return json.loads(content.split("<data>", 1)[1].split("</data>", 1)[0])


def text(content: str, *, prompt_tokens: int = 120, completion_tokens: int = 40) -> Reply:
    """A final answer."""
    message = {"role": "assistant", "content": content}
    return Reply(body=_completion(message, "stop", prompt_tokens, completion_tokens))


def tool_calls(*calls: tuple[str, Json]) -> Reply:
    """An answer that calls tools: (name, arguments) pairs."""
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{i}_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(calls)
        ],
    }
    return Reply(body=_completion(message, "tool_calls", 150, 20))


def error(status: int, *, retry_after: float | None = None, message: str = "scripted") -> Reply:
    """An error answer; a 429 may carry ``Retry-After`` (seconds, may be fractional)."""
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    kind = "rate_limit_exceeded" if status == 429 else "server_error"
    return Reply(status, {"error": {"message": message, "type": kind, "code": kind}}, headers)


def slow(reply: Reply | None = None) -> Reply:
    """``reply`` (a short answer by default) held back until ``release()`` or the fake stops."""
    base = reply or text("Too late.")
    return Reply(base.status, base.body, base.headers, slow=True)


def _completion(message: Json, finish: str, prompt_tokens: int, completion_tokens: int) -> Json:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class FakeOpenAI:
    """A fake OpenAI-compatible server on loopback. See the module docstring."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.responder: Callable[[Request], Reply] | None = None
        self.errors: list[BaseException] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeOpenAI:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The value for ``OPENAI_BASE_URL``: ``http://127.0.0.1:PORT/v1``."""
        assert self._server is not None, "FakeOpenAI is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self._lock:
            self._script.extend(replies)

    def release(self) -> None:
        """Let held-back (slow) answers go."""
        self._release.set()

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[Request]:
        """Block until ``count`` requests arrived."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} request(s), got {len(self.requests)}")
            return list(self.requests)

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        if path.rstrip("/") != "/v1/chat/completions":
            return Reply(404, {"error": {"message": f"no route {path}", "type": "not_found"}})
        text_body = raw.decode()
        request = Request(json.loads(text_body), headers, text_body)
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            reply = scripted
        elif self.responder is not None:
            reply = self.responder(request)
        else:
            reply = error(500, message="nothing scripted")
        if reply.slow:
            self._release.wait(timeout=30)
        return reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle and delayed ACKs
        # add ~40 ms to every answer on loopback
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = fake._answer(self.path.split("?", 1)[0], headers, raw)
        except Exception as exc:
            fake.errors.append(exc)
            reply = Reply(500, {"error": {"message": repr(exc), "type": "fake_error"}})
        body = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        pass
