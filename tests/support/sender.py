"""A test sender: posts to Steward over HTTP, signed as a Standard Webhooks provider signs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import Any

import httpx
import orjson


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Compute a webhook-signature value from first principles (as the README's openssl does)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class Sender:
    """An httpx client that signs webhook posts and reads with a bearer token."""

    def __init__(self, base_url: str, *, secret: str, token: str) -> None:
        self.secret = secret
        self.token = token
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def signed(
        self,
        path: str,
        payload: Any,
        *,
        msg_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """POST a payload with webhook-id, webhook-timestamp and webhook-signature."""
        raw = body if body is not None else orjson.dumps(payload)
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        ts = timestamp if timestamp is not None else int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(secret or self.secret, msg_id, ts, raw),
        }
        return self.http.post(path, content=raw, headers=headers)

    def bearer(
        self,
        path: str,
        payload: Any = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST with Authorization: Bearer."""
        raw = body if body is not None else orjson.dumps(payload)
        all_headers = {"authorization": f"Bearer {self.token}", "content-type": "application/json"}
        all_headers.update(headers or {})
        return self.http.post(path, content=raw, headers=all_headers)

    def unauthenticated(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request with only the headers given (no signature, no token)."""
        return self.http.request(method, path, **kwargs)

    def get(self, path: str, **params: Any) -> httpx.Response:
        """GET with the bearer token."""
        return self.http.get(path, params=params, headers={"authorization": f"Bearer {self.token}"})
