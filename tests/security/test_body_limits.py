"""Issue 22 row 1: an unsigned huge POST to the Slack or Teams route is refused before it is
read whole or parsed (it was read and parsed first: 138 MB -> 1.06 GB, then a 500)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.web import create_app
from tests.support.fakes.slack import FakeSlack
from tests.support.fakes.teams import FakeBotFramework
from tests.support.server import LiveServer
from tests.support.slack_world import slack_services

FORGED = {  # well-formed, unsigned: what anyone can send
    "content-type": "application/json",
    "x-slack-request-timestamp": str(int(time.time())),
    "x-slack-signature": "v0=" + "0" * 64,
}
OVER = 8 * 1024 * 1024  # far above any Slack or Teams payload (the limit is 1 MiB)


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body streamed without a Content-Length, as a client can send it."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


@pytest.fixture
def platforms(engine: Engine, database_url: str, fake_slack: FakeSlack) -> Iterator[str]:
    """One Steward with both Slack and Teams configured (signed requests only)."""
    with FakeBotFramework() as teams:
        services = slack_services(
            engine,
            database_url,
            fake_slack,
            microsoft_app_id=teams.app_id,
            microsoft_app_password=teams.app_password,
            microsoft_app_tenant_id=teams.tenant_id,
            teams_openid_metadata_url=teams.openid_metadata_url,
            microsoft_token_url=teams.token_url,
        )
        with LiveServer(create_app(services)) as server:
            yield server.url


@pytest.mark.parametrize("path", ["/slack/events", "/api/messages"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_oversized_unsigned_body_is_refused_with_413(
    platforms: str, path: str, declared: bool
) -> None:
    body = b"x" * OVER if declared else chunks(OVER)
    with httpx.Client(base_url=platforms, timeout=30) as client:
        answer = client.post(path, content=body, headers=FORGED)
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"


@pytest.mark.parametrize("path", ["/slack/events", "/api/messages"])
def test_a_small_unsigned_body_is_still_refused_as_unsigned(platforms: str, path: str) -> None:
    with httpx.Client(base_url=platforms, timeout=30) as client:
        answer = client.post(path, content=b"{}", headers=FORGED)
    assert answer.status_code in (400, 401)  # not 413: the limit is far above real payloads
