"""Issue 22 row 2: a forged, late or oversized request to Slack's route leaves no body, token
or response_url in the logs, even with logging at DEBUG (Bolt logged whole bodies at INFO:
anyone could fill the disk, and a late genuine request logged its response_url)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.web import create_app
from tests.support.fakes.slack import FakeSlack
from tests.support.server import LiveServer
from tests.support.slack_signing import signed_headers
from tests.support.slack_world import SIGNING_SECRET, slack_services

RESPONSE_URL = "https://hooks.slack.com/commands/T1/4242/s3cr3tResponsePath"
MARKER = "body-marker-d41d8cd98f"


@pytest.fixture
def slack_url(engine: Engine, database_url: str, fake_slack: FakeSlack) -> Iterator[str]:
    with LiveServer(create_app(slack_services(engine, database_url, fake_slack))) as server:
        yield server.url


def command_body() -> str:
    return urlencode(
        {
            "command": "/health",
            "text": f"acme {MARKER}",
            "user_id": "U123",
            "team_id": "T1",
            "channel_id": "C123",
            "response_url": RESPONSE_URL,
            "token": "verification-token-xyz",
            "trigger_id": "1.2.3",
        }
    )


def test_refused_requests_leave_no_body_or_response_url_in_the_logs(
    slack_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = command_body()
    form = {"content-type": "application/x-www-form-urlencoded"}
    forged = {
        **form,
        "x-slack-request-timestamp": str(int(time.time())),
        "x-slack-signature": "v0=" + "0" * 64,
    }
    late = {**form, **signed_headers(body, SIGNING_SECRET, timestamp=int(time.time()) - 3600)}
    with httpx.Client(base_url=slack_url, timeout=30) as client:
        answers = [
            client.post("/slack/events", content=body, headers=forged),
            client.post("/slack/events", content=body, headers=late),
            client.post("/slack/events", content=body + "&x=" + "y" * (2 << 20), headers=forged),
        ]
    assert [a.status_code for a in answers] == [401, 401, 413]
    for secret in (MARKER, "s3cr3tResponsePath", "verification-token-xyz"):
        assert secret not in caplog.text
