"""Zendesk webhooks as Zendesk sends them: its ticket events and a trigger's JSON body,
signed as Zendesk signs (base64 HMAC-SHA256 of the timestamp and the body)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from tests.support.events import NOW


def _at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def ticket_event(kind: str = "created", ticket: str = "35436", **detail: Any) -> dict[str, Any]:
    """A ``zen:event-type:ticket.*`` event, shaped as Zendesk's webhook event reference."""
    return {
        "type": f"zen:event-type:ticket.{kind}",
        "account_id": 88888888,
        "id": f"01HNXXXX-{kind}-{ticket}",
        "time": _at(0),
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket}",
        "detail": {
            "id": ticket,
            "status": "Open",
            "priority": "HIGH",
            "subject": "Exports time out",
            "organization_id": "360001234567",
            "requester_id": "366000000001",
            "via": {"channel": "web"},
            "created_at": _at(30),
            "updated_at": _at(1),
            **detail,
        },
        "event": {"current": {"status": detail.get("status", "Open")}},
    }


def trigger_body(ticket: str = "4242", **fields: Any) -> dict[str, Any]:
    """The JSON body the README has a Zendesk trigger send, its placeholders filled."""
    return {
        "ticket": {
            "id": ticket,
            "organization": "initech-1",
            "status": "Solved",
            "priority": "Urgent",
            "subject": "Invoices missing",
            "created_at": _at(50),
            "updated_at": _at(2),
            "satisfaction": "Good",
            **fields,
        }
    }


def post(
    http: httpx.Client, payload: Any, secret: str, *, stamp: str | None = None
) -> httpx.Response:
    body = orjson.dumps(payload)
    stamp = stamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "user-agent": "Zendesk Webhook",
        "x-zendesk-webhook-id": "01GK8E6BKWMJZD2T8Y5AXJQMG5",
        "x-zendesk-webhook-signature": base64.b64encode(digest).decode(),
        "x-zendesk-webhook-signature-timestamp": stamp,
    }
    return http.post("/v1/sources/zendesk", content=body, headers=headers)
