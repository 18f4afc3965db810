"""HubSpot webhooks as HubSpot sends them: a list of company events, signed with the v3
signature (base64 HMAC-SHA256 of method, URL, body and timestamp in milliseconds)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson

PORTAL = 62515
APP = 54321


def company_event(kind: str, company: int = 123456789, n: int = 1, **change: Any) -> dict[str, Any]:
    """One event of a HubSpot webhook delivery, as HubSpot's webhooks reference shows."""
    event: dict[str, Any] = {
        "eventId": 1000 + n,
        "subscriptionId": 2222,
        "portalId": PORTAL,
        "appId": APP,
        "occurredAt": 1_764_900_000_000 + n,
        "subscriptionType": f"company.{kind}",
        "attemptNumber": 0,
        "objectId": company,
        "changeSource": "CRM_UI",
    }
    if kind == "propertyChange":
        event["propertyName"], event["propertyValue"] = change["name"], change["value"]
    return event


def post(
    http: httpx.Client,
    events: Any,
    secret: str,
    *,
    stamp_ms: int | None = None,
    url: str | None = None,
) -> httpx.Response:
    """POST as HubSpot does; ``url`` is the URL HubSpot believes it calls (a proxy's)."""
    body = orjson.dumps(events)
    stamp = str(stamp_ms if stamp_ms is not None else int(time.time() * 1000))
    called = url or f"{str(http.base_url).rstrip('/')}/v1/sources/hubspot"
    text = b"POST" + called.encode() + body + stamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), text, hashlib.sha256).digest())
    headers = {
        "content-type": "application/json",
        "user-agent": "HubSpot Webhooks",
        "x-hubspot-signature-v3": signature.decode(),
        "x-hubspot-request-timestamp": stamp,
    }
    return http.post("/v1/sources/hubspot", content=body, headers=headers)
