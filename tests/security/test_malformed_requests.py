"""Issue 22, "also": malformed requests that answered 500 get a 4xx (or a card saying what
went wrong): a non-integer Slack timestamp, and a Teams button whose value Steward did
not write."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.adapters.teams.render import SOURCE
from bot.web import create_app
from tests.support.fakes.slack import FakeSlack
from tests.support.fakes.teams import FakeBotFramework
from tests.support.server import LiveServer
from tests.support.slack_world import slack_services
from tests.support.teams_world import CASEY, PERSONAL, member, serve_teams


@pytest.fixture
def slack_url(engine: Engine, database_url: str, fake_slack: FakeSlack) -> Iterator[str]:
    with LiveServer(create_app(slack_services(engine, database_url, fake_slack))) as server:
        yield server.url


@pytest.mark.parametrize("timestamp", ["abc", "1.5", "", "9" * 40])
def test_a_slack_request_with_a_bad_timestamp_is_refused_not_a_500(
    slack_url: str, timestamp: str
) -> None:
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": "v0=" + "0" * 64,
    }
    answer = httpx.post(f"{slack_url}/slack/events", content="command=%2Fhealth", headers=headers)
    assert answer.status_code == 401


@pytest.mark.parametrize("value", ["", "acme", '{"a": 1}', "[1, 2]"])
def test_a_teams_button_steward_did_not_write_gets_a_card_not_a_500(
    db: Engine, database_url: str, value: str
) -> None:
    with FakeBotFramework() as fake, serve_teams(db, database_url, fake) as (_, client):
        member(fake, PERSONAL, CASEY)
        data = {"source": SOURCE, "action": "details", "value": value}
        pressed = client.click(data, reply_to="1")
        response = client.post(pressed)
    assert response.status_code == 200
    body = response.json()
    assert body["statusCode"] == 200
    assert body["value"] == "Unknown button"  # and the card saying why follows in the chat
