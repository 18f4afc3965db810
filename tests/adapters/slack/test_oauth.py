"""'Add to Slack' for many workspaces, end to end over HTTP against the fake Slack.

Steward runs with SLACK_CLIENT_ID / SLACK_CLIENT_SECRET (no SLACK_BOT_TOKEN): the
browser goes to /slack/install, Slack's authorize page (not faked: the test plays the
browser and Slack's redirect back), /slack/oauth_redirect, where Steward exchanges the
code at the fake's oauth.v2.access and stores the workspace's token, encrypted.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from bot.web import create_app
from bot.worker import senders
from core.sealing import new_key
from core.settings import ConfigError, load_settings
from services.container import Services, build_services
from storage import outbox, slack_installs, tables
from storage.db import write_transaction
from tests.support.fakes.slack import FakeSlack
from tests.support.push_world import outbox_rows, posts
from tests.support.server import LiveServer
from tests.support.slack_signing import signed_headers, slash_command_body
from tests.support.slack_world import SIGNING_SECRET

CLIENT_ID = "1234567890.0987654321"
CLIENT_SECRET = "c1i3nt-s3cr3t-for-tests"
KEY = new_key()
TEAMS = {
    "TA": ("Acme Inc", "xoxb-acme-1111", "CA1", "UA1"),
    "TB": ("Bravo", "xoxb-bravo-2222", "CB1", "UB1"),
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token="xoxb-not-steward-s") as fake:
        fake.oauth_apps[CLIENT_ID] = CLIENT_SECRET
        for team, (_, _, channel, user) in TEAMS.items():
            fake.add_user(user, team_id=team, name=f"csm-{team.lower()}", email=f"csm@{team}.test")
            fake.add_channel(channel, name=f"cs-{team.lower()}", members=[user])
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(db: Engine, database_url: str, slack: FakeSlack, clock: Clock) -> Services:
    settings = load_settings(
        database_url=database_url,
        slack_signing_secret=SIGNING_SECRET,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        encryption_keys=KEY,
        slack_api_url=slack.base_url,
    )
    services = build_services(settings, engine=db)
    services.clock = clock
    return services


@pytest.fixture
def live(services: Services) -> Iterator[LiveServer]:
    with LiveServer(create_app(services)) as server:
        yield server


def start_install(browser: httpx.Client) -> str:
    """GET /slack/install; the state Slack will send back. The state cookie is Secure: a
    browser sends it back over https, so the test (on http loopback) sends it itself."""
    start = browser.get("/slack/install")
    assert start.status_code == 302
    assert "Secure" in start.headers["set-cookie"]
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    browser.cookies.set("slack-app-oauth-state", state)
    return state


def install(live: LiveServer, slack: FakeSlack, team: str) -> httpx.Response:
    """A browser going through "Add to Slack" for ``team`` and approving it."""
    name, token, _, user = TEAMS[team]
    code = f"code-{uuid.uuid4().hex[:8]}"
    slack.add_oauth_code(code, team_id=team, team_name=name, bot_token=token, installer=user)
    with httpx.Client(base_url=live.url, timeout=10) as browser:
        state = start_install(browser)
        return browser.get("/slack/oauth_redirect", params={"code": code, "state": state})


def command(live: LiveServer, slack: FakeSlack, team: str, text: str, name: str) -> None:
    _, _, channel, user = TEAMS[team]
    body = slash_command_body(
        "/steward",
        text,
        user_id=user,
        channel_id=channel,
        team_id=team,
        response_url=slack.response_url(name),
    )
    headers = signed_headers(body, SIGNING_SECRET)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = httpx.post(f"{live.url}/slack/events", content=body, headers=headers, timeout=10)
    assert response.status_code == 200


def event(live: LiveServer, team: str, kind: str, **fields: object) -> httpx.Response:
    body = json.dumps(
        {
            "token": "verification-token",
            "team_id": team,
            "api_app_id": "A0STEWARD",
            "event": {"type": kind, "event_ts": f"{time.time():.6f}", **fields},
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
        }
    )
    headers = signed_headers(body, SIGNING_SECRET)
    headers["Content-Type"] = "application/json"
    return httpx.post(f"{live.url}/slack/events", content=body, headers=headers, timeout=10)


def installations(db: Engine) -> list[dict[str, object]]:
    with db.connect() as conn:
        rows = conn.execute(sa.select(tables.slack_installations)).mappings()
        return [dict(row) for row in rows]


def tokens_used(slack: FakeSlack, method: str) -> set[str]:
    return {c.headers.get("authorization", "") for c in slack.calls_to(method)}


def test_install_redirects_to_slack_with_steward_scopes_and_a_state(live: LiveServer) -> None:
    response = httpx.get(f"{live.url}/slack/install", timeout=10)
    assert response.status_code == 302
    url = urlsplit(response.headers["location"])
    query = parse_qs(url.query)
    assert (url.netloc, url.path) == ("slack.com", "/oauth/v2/authorize")
    assert query["client_id"] == [CLIENT_ID]
    assert {"commands", "chat:write", "users:read"} <= set(query["scope"][0].split(","))
    state = query["state"][0]
    assert len(state) >= 32
    assert response.cookies.get("slack-app-oauth-state") == state  # the browser is bound to it
    again = httpx.get(f"{live.url}/slack/install", timeout=10)
    assert parse_qs(urlsplit(again.headers["location"]).query)["state"][0] != state


def test_a_forged_state_is_refused_and_no_code_is_exchanged(
    live: LiveServer, slack: FakeSlack, db: Engine
) -> None:
    slack.add_oauth_code("code-1", team_id="TA", team_name="Acme", bot_token="xoxb-acme-1111")
    with httpx.Client(base_url=live.url, timeout=10) as browser:
        browser.cookies.set("slack-app-oauth-state", "forged")
        response = browser.get(
            "/slack/oauth_redirect", params={"code": "code-1", "state": "forged"}
        )
    assert response.status_code == 401  # Bolt: invalid_state
    assert slack.calls_to("oauth.v2.access") == []
    assert installations(db) == []


def test_an_expired_state_is_refused(
    live: LiveServer, slack: FakeSlack, db: Engine, clock: Clock
) -> None:
    slack.add_oauth_code("code-2", team_id="TA", team_name="Acme", bot_token="xoxb-acme-1111")
    with httpx.Client(base_url=live.url, timeout=10) as browser:
        state = start_install(browser)
        clock.now += timedelta(minutes=11)
        response = browser.get("/slack/oauth_redirect", params={"code": "code-2", "state": state})
    assert response.status_code == 401  # Bolt: invalid_state
    assert slack.calls_to("oauth.v2.access") == []
    assert installations(db) == []


def test_the_code_is_exchanged_and_the_token_stored_encrypted(
    live: LiveServer, slack: FakeSlack, db: Engine
) -> None:
    response = install(live, slack, "TA")
    assert response.status_code == 200
    [exchange] = slack.calls_to("oauth.v2.access")
    assert exchange.headers["authorization"].startswith("Basic ")  # client id and secret
    [row] = installations(db)
    assert (row["team_id"], row["team_name"], row["installer_user_id"]) == ("TA", "Acme Inc", "UA1")
    raw = str(row["bot_token"])
    assert "xoxb-acme-1111" not in raw
    assert Fernet(KEY.encode()).decrypt(raw.encode()).decode() == "xoxb-acme-1111"


def test_each_workspace_is_answered_and_pushed_to_with_its_own_token(
    live: LiveServer, slack: FakeSlack, db: Engine, services: Services
) -> None:
    assert install(live, slack, "TA").status_code == 200
    assert install(live, slack, "TB").status_code == 200
    command(live, slack, "TA", "help", "a")
    command(live, slack, "TB", "help", "b")
    [answer_a] = slack.wait_for_responses("a", 1)
    [answer_b] = slack.wait_for_responses("b", 1)
    assert "Not answered" not in json.dumps(answer_a) + json.dumps(answer_b)
    users = {c.params["user"]: c.headers["authorization"] for c in slack.calls_to("users.info")}
    assert users == {"UA1": "Bearer xoxb-acme-1111", "UB1": "Bearer xoxb-bravo-2222"}

    now = services.clock()
    with write_transaction(db) as conn:
        for channel in ("CA1", "CB1"):
            card = {"title": f"Digest for {channel}", "summary": "All quiet."}
            outbox.enqueue(
                conn, platform="slack", channel=channel, kind="digest", account_id=None,
                period="2026-12-05", card=card, now=now,
            )  # fmt: skip
    senders(services)["slack"].send_due(now)
    by_channel = {
        c.params["channel"]: c.headers["authorization"] for c in slack.calls_to("chat.postMessage")
    }
    assert by_channel == {"CA1": "Bearer xoxb-acme-1111", "CB1": "Bearer xoxb-bravo-2222"}
    assert len(posts(slack)) == 2


def test_a_workspace_that_uninstalls_is_forgotten(
    live: LiveServer, slack: FakeSlack, db: Engine, services: Services
) -> None:
    install(live, slack, "TA")
    install(live, slack, "TB")
    command(live, slack, "TA", "help", "before")
    slack.wait_for_responses("before", 1)
    assert event(live, "TA", "app_uninstalled").status_code == 200
    slack.revoke_team("TA")
    assert [row["team_id"] for row in installations(db)] == ["TB"]

    now = services.clock()
    with write_transaction(db) as conn:
        outbox.enqueue(
            conn, platform="slack", channel="CA1", kind="digest", account_id=None,
            period="2026-12-05", card={"title": "Digest", "summary": "x"}, now=now,
        )  # fmt: skip
    senders(services)["slack"].send_due(now)
    [row] = outbox_rows(db)
    assert row.status == "failed"
    assert str(row.error).startswith("not_installed")
    assert slack.calls_to("chat.postMessage") == []


def test_tokens_revoked_deletes_the_installation(
    live: LiveServer, slack: FakeSlack, db: Engine
) -> None:
    install(live, slack, "TB")
    assert [row["team_id"] for row in installations(db)] == ["TB"]
    revoked_user_token = event(live, "TB", "tokens_revoked", tokens={"oauth": ["UB1"], "bot": []})
    assert revoked_user_token.status_code == 200
    assert [row["team_id"] for row in installations(db)] == ["TB"]  # Steward keeps no user tokens
    revoked = event(live, "TB", "tokens_revoked", tokens={"oauth": [], "bot": ["UBOT"]})
    assert revoked.status_code == 200
    assert installations(db) == []


def test_membership_is_judged_per_workspace(live: LiveServer, slack: FakeSlack, db: Engine) -> None:
    """Someone of workspace B sitting in A's channel is an outsider there."""
    install(live, slack, "TA")
    install(live, slack, "TB")
    command(live, slack, "TA", "help", "clean")
    slack.add_channel("CA2", name="cs-mixed", members=["UA1", "UB1"])
    body = slash_command_body(
        "/steward", "book", user_id="UA1", channel_id="CA2", team_id="TA",
        response_url=slack.response_url("mixed"),
    )  # fmt: skip
    headers = signed_headers(body, SIGNING_SECRET)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert httpx.post(f"{live.url}/slack/events", content=body, headers=headers).status_code == 200
    [clean] = slack.wait_for_responses("clean", 1)
    [mixed] = slack.wait_for_responses("mixed", 1)
    assert "Not answered" not in json.dumps(clean)
    assert "Not answered here" in json.dumps(mixed)
    assert {c.headers["authorization"] for c in slack.calls_to("auth.test")} >= {
        "Bearer xoxb-acme-1111"
    }


def test_the_worker_rotates_an_expiring_token_and_stores_the_new_one_encrypted(
    live: LiveServer, slack: FakeSlack, db: Engine, services: Services
) -> None:
    name, token, channel, user = TEAMS["TA"]
    slack.add_oauth_code(
        "code-r", team_id="TA", team_name=name, bot_token=token, installer=user,
        refresh_token="xoxe-1-first", expires_in=60,
    )  # fmt: skip
    with httpx.Client(base_url=live.url, timeout=10) as browser:
        state = start_install(browser)
        assert browser.get("/slack/oauth_redirect", params={"code": "code-r", "state": state})
    now = services.clock()
    with write_transaction(db) as conn:  # as a command from CA1 would (and rotate in Bolt)
        slack_installs.remember_team(conn, [channel], "TA", now=now)
        outbox.enqueue(
            conn, platform="slack", channel=channel, kind="digest", account_id=None,
            period="2026-12-05", card={"title": "Digest", "summary": "x"}, now=now,
        )  # fmt: skip
    senders(services)["slack"].send_due(now)
    refreshes = [c for c in slack.calls_to("oauth.v2.access") if "grant_type" in c.params]
    assert [c.params["refresh_token"] for c in refreshes] == ["xoxe-1-first"]
    [post] = slack.calls_to("chat.postMessage")
    assert post.headers["authorization"] == "Bearer xoxe.xoxb-ta-rotated-1"
    [row] = installations(db)
    fernet = Fernet(KEY.encode())
    assert fernet.decrypt(str(row["bot_token"]).encode()).decode() == "xoxe.xoxb-ta-rotated-1"
    refresh = str(row["bot_refresh_token"])
    assert "xoxe-1-ta-refresh-1" not in refresh
    assert fernet.decrypt(refresh.encode()).decode() == "xoxe-1-ta-refresh-1"


def test_oauth_without_an_encryption_key_does_not_start(database_url: str) -> None:
    oauth = {"slack_client_id": CLIENT_ID, "slack_client_secret": CLIENT_SECRET}
    with pytest.raises(ConfigError, match="need STEWARD_ENCRYPTION_KEY"):
        load_settings(database_url=database_url, slack_signing_secret="s", **oauth)
    with pytest.raises(ConfigError, match="must be Fernet keys"):
        load_settings(database_url=database_url, encryption_keys="not-a-key", **oauth)
    rotated = load_settings(
        database_url=database_url, encryption_keys=f"{new_key()},{KEY}", **oauth
    )
    assert len(rotated.encryption_keys) == 2
