"""Build and sign requests the way Slack sends them to an app (slash commands, interactions).

Slack signs ``v0:<timestamp>:<raw body>`` with HMAC-SHA256 under the app's signing secret and
sends ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature: v0=<hex digest>``.  The caller
sets ``Content-Type: application/x-www-form-urlencoded`` (Slack's content type for both).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

DEFAULT_RESPONSE_URL = (
    "https://hooks.slack.com/commands/T0STEWARD/1234567890123/abcdefghijklmnopqrstuvwx"
)


def signature(body: bytes | str, secret: str, timestamp: int) -> str:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes | str, secret: str, *, timestamp: int | None = None
) -> dict[str, str]:
    """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` for ``body`` (now by default)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, secret, ts),
    }


def slash_command_body(
    command: str,
    text: str,
    *,
    user_id: str = "U123",
    channel_id: str = "C123",
    team_id: str = "T0STEWARD",
    response_url: str = DEFAULT_RESPONSE_URL,
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
    user_name: str = "casey",
    channel_name: str = "cs-team",
    team_domain: str = "steward-test",
    api_app_id: str = "A0STEWARD",
    token: str = "gIkuvaNzQIHg97ATvDxqgjtO",
) -> str:
    """The ``application/x-www-form-urlencoded`` body Slack posts for a slash command."""
    return urlencode(
        {
            "token": token,
            "team_id": team_id,
            "team_domain": team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def interaction_body(payload: dict[str, Any]) -> str:
    """``payload=<urlencoded JSON>``, as Slack posts block_actions / view_submission."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
