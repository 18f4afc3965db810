"""Security row 11: TEAMS_ALLOW_ANONYMOUS let any caller make Steward read and post to any
URL, an unencoded conversation id (``x/../../../admin?q=``) reached another path, and the
address an anonymous activity left behind outlived dev mode: the worker later sent a real
Bot Connector token there.

Now anonymous mode serves loopback only (the bind address, the caller, the serviceUrl)
and remembers nothing; the Bot Connector token goes only to TEAMS_SERVICE_HOSTS; every
path segment of a connector URL is encoded.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.adapters.teams.connector import Connector
from bot.adapters.teams.outbox import TeamsOutbox
from bot.web import create_app
from storage import outbox, tables
from storage import teams as references
from storage.db import read_connection, write_transaction
from tests.support.cli import STEWARD, environment, free_port, serving
from tests.support.fakes.teams import FakeBotFramework
from tests.support.server import TEST_TOKEN, LiveServer
from tests.support.teams_world import (
    CASEY,
    PERSONAL,
    TeamsClient,
    member,
    serve_teams,
    teams_services,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CHANNEL = "19:attacked@thread.tacv2"
EVERYWHERE = "0.0.0.0"  # noqa: S104 (the address under test, never bound)
CARD = {"title": "Morning digest", "summary": "Acme is at risk."}


@pytest.fixture
def fake_teams() -> Iterator[FakeBotFramework]:
    """The genuine Bot Framework (the one Steward's settings name)."""
    with FakeBotFramework() as fake:
        member(fake, PERSONAL, CASEY)
        member(fake, CHANNEL, CASEY)
        yield fake


@pytest.fixture
def attacker() -> Iterator[FakeBotFramework]:
    """Someone else's server, speaking the Bot Connector protocol, recording what it gets."""
    with FakeBotFramework() as fake:
        member(fake, PERSONAL, CASEY)
        member(fake, CHANNEL, CASEY)
        yield fake


def stored_conversations(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.select(tables.teams_conversations.c.conversation_id)))


def credentials_seen(fake: FakeBotFramework) -> list[str]:
    """The Authorization headers a server received."""
    return [r.headers["authorization"] for r in fake.requests if "authorization" in r.headers]


def queue_digest(engine: Engine, channel: str) -> None:
    with write_transaction(engine) as conn:
        outbox.enqueue(
            conn,
            platform="teams",
            channel=channel,
            kind="digest",
            account_id=None,
            period="2026-11-23",
            card=CARD,
            now=NOW,
        )


def worker_with_credentials(engine: Engine, database_url: str, fake: FakeBotFramework) -> Any:
    """The worker's Teams sender, with the app's real credentials (no anonymous mode)."""
    services = teams_services(engine, database_url, fake)
    assert services.settings.microsoft_app_password is not None
    assert not services.settings.teams_allow_anonymous
    return TeamsOutbox(engine, Connector.from_settings(services.settings, engine))


def outbox_errors(engine: Engine) -> list[tuple[str, str | None]]:
    with read_connection(engine) as conn:
        return [(m.status, m.error) for m in outbox.messages(conn, limit=100)]


# -- anonymous mode is loopback only ---------------------------------------------------


def start_serve(tmp_path: Path, *args: str, **env: str) -> tuple[int | None, str]:
    """Start `steward serve`; (None, output) once uvicorn runs, or (exit code, output)."""
    proc = subprocess.Popen(
        [STEWARD, "serve", "--port", str(free_port()), *args],
        cwd=tmp_path,
        env=environment(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    for line in proc.stderr:  # blocks until uvicorn reports, or the process ends
        lines.append(line)
        if "Uvicorn running on" in line:
            proc.terminate()
            proc.wait(timeout=30)
            return None, "".join(lines)
    return proc.wait(timeout=30), "".join(lines)


def test_anonymous_mode_refuses_to_start_on_a_non_loopback_address(tmp_path: Path) -> None:
    env = {"STEWARD_API_TOKENS": TEST_TOKEN, "TEAMS_ALLOW_ANONYMOUS": "true"}
    code, output = start_serve(tmp_path, "--host", EVERYWHERE, **env)
    assert code == 2, output
    assert "TEAMS_ALLOW_ANONYMOUS" in output
    assert EVERYWHERE in output
    assert "loopback" in output
    with serving(STEWARD, cwd=tmp_path, env=environment(**env), args=("--host", "127.0.0.1")) as (
        url,
        _,
    ):
        assert httpx.get(f"{url}/healthz").status_code == 200


def test_an_anonymous_activity_forwarded_from_a_remote_caller_is_refused(
    db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams, teams_allow_anonymous=True) as (_, client):
        body = client.activity(text="risks")
        answer = httpx.post(
            f"{client.url}/api/messages",
            json=body,
            headers={"X-Forwarded-For": "203.0.113.7"},  # a proxy on loopback, a remote caller
            timeout=30,
        )
    assert answer.status_code == 403
    assert "loopback" in answer.json()["message"]
    assert fake_teams.requests == []  # no roster read, no reply
    assert stored_conversations(db) == []


def outward_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP: chooses a route, sends nothing
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_an_anonymous_activity_arriving_on_a_non_loopback_interface_is_refused(
    db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback interface")
    services = teams_services(db, database_url, fake_teams, teams_allow_anonymous=True)
    with LiveServer(create_app(services), host=address) as server:
        client = TeamsClient(server.url, fake_teams)
        answer = client.post(client.activity(text="risks"), authorization=None)
    assert answer.status_code == 403
    assert fake_teams.requests == []
    assert stored_conversations(db) == []


def test_an_anonymous_activity_naming_a_foreign_service_url_is_refused(
    db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams, teams_allow_anonymous=True) as (_, client):
        body = client.activity(text="risks", serviceUrl="https://attacker.example/teams/")
        answer = client.post(body, authorization=None)
    assert answer.status_code == 403
    assert "serviceUrl" in answer.json()["message"]
    assert stored_conversations(db) == []


def test_an_anonymous_activity_is_answered_on_loopback_and_remembered_nowhere(
    db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams, teams_allow_anonymous=True) as (_, client):
        answer = client.post(client.activity(text="help"), authorization=None)
    assert answer.status_code == 200
    [reply] = [r for r in fake_teams.requests if r.kind == "reply"]
    assert "authorization" not in reply.headers  # answered, without credentials
    assert stored_conversations(db) == []


def test_dev_mode_leaves_no_address_for_the_worker_to_send_credentials_to(
    db: Engine, database_url: str, fake_teams: FakeBotFramework, attacker: FakeBotFramework
) -> None:
    """The reproduction: an anonymous activity names the attacker's serviceUrl (on loopback,
    so dev mode answers it), then the worker runs with the app's credentials."""
    with serve_teams(db, database_url, fake_teams, teams_allow_anonymous=True) as (_, client):
        body = client.activity(text="help", conversation=CHANNEL, serviceUrl=attacker.service_url)
        client.post(body, authorization=None)
    queue_digest(db, CHANNEL)
    report = worker_with_credentials(db, database_url, fake_teams).send_due(NOW)
    assert report.sent == 0
    assert credentials_seen(attacker) == []
    assert stored_conversations(db) == []
    [(status, error)] = outbox_errors(db)
    assert status == "failed"
    assert error is not None
    assert error.startswith("no_conversation")


@pytest.mark.parametrize("kind", ["channel", "personal"])
def test_a_stored_reference_to_an_unknown_host_never_gets_the_token(
    db: Engine,
    database_url: str,
    fake_teams: FakeBotFramework,
    attacker: FakeBotFramework,
    kind: str,
) -> None:
    """A reference an older Steward stored from an anonymous activity, still in the table."""
    conversation = CHANNEL if kind == "channel" else PERSONAL
    with write_transaction(db) as conn:
        reference = references.Conversation(
            conversation_id=conversation,
            service_url=attacker.service_url,
            kind=kind,
            bot_id=f"28:{fake_teams.app_id}",
            tenant_id=fake_teams.tenant_id,
        )
        references.remember(conn, reference, now=NOW)
    queue_digest(db, conversation)
    report = worker_with_credentials(db, database_url, fake_teams).send_due(NOW)
    assert (report.sent, report.failed) == (0, 1)
    assert attacker.requests == []
    [(status, error)] = outbox_errors(db)
    assert status == "failed"
    assert error is not None
    assert error.startswith("untrusted_service_url")
    assert urlsplit(attacker.service_url).netloc in error


def test_a_signed_activity_naming_an_unknown_host_gets_no_credentials(
    db: Engine, database_url: str, fake_teams: FakeBotFramework, attacker: FakeBotFramework
) -> None:
    """Even a valid token (here for the attacker's serviceUrl) does not send ours elsewhere."""
    with serve_teams(db, database_url, fake_teams) as (_, client):
        body = client.activity(text="risks", serviceUrl=attacker.service_url)
        auth = fake_teams.authorization(service_url=attacker.service_url)
        answer = client.post(body, authorization=auth)
    assert answer.status_code == 403
    assert "TEAMS_SERVICE_HOSTS" in answer.json()["message"]
    assert attacker.requests == []
    assert stored_conversations(db) == []


# -- every path segment is encoded -------------------------------------------------------

HOSTILE_IDS = ["a:1x/../../../admin?q=", "..", "a:1#frag", "19:a%2Fb@thread.tacv2"]


def connector_calls(fake: FakeBotFramework) -> list[tuple[str, list[str]]]:
    """(route, decoded segments after /teams/v3/conversations/) of each connector call."""
    calls = []
    for r in fake.requests:
        if r.kind in ("metadata", "keys", "token"):
            continue
        path = urlsplit(r.path).path
        calls.append((r.kind, [unquote(s) for s in path.split("/")[4:]]))
    return calls


@pytest.mark.parametrize("conversation", HOSTILE_IDS)
def test_conversation_and_activity_ids_are_url_encoded_in_replies(
    db: Engine, database_url: str, fake_teams: FakeBotFramework, conversation: str
) -> None:
    member(fake_teams, conversation, CASEY)
    activity_id = "1/../../../v3/conversations/other/activities?x="
    with serve_teams(db, database_url, fake_teams) as (_, client):
        body = client.activity(text="help", conversation=conversation, id=activity_id)
        assert client.post(body).status_code == 200
    assert connector_calls(fake_teams) == [
        ("members", [conversation, "members"]),
        ("reply", [conversation, "activities", activity_id]),
    ]


@pytest.mark.parametrize("conversation", HOSTILE_IDS)
def test_conversation_ids_are_url_encoded_in_outbox_posts(
    db: Engine, database_url: str, fake_teams: FakeBotFramework, conversation: str
) -> None:
    member(fake_teams, conversation, CASEY)
    with write_transaction(db) as conn:
        reference = references.Conversation(
            conversation_id=conversation,
            service_url=fake_teams.service_url,
            kind="channel",
            bot_id=f"28:{fake_teams.app_id}",
            tenant_id=fake_teams.tenant_id,
        )
        references.remember(conn, reference, now=NOW)
    queue_digest(db, conversation)
    assert worker_with_credentials(db, database_url, fake_teams).send_due(NOW).sent == 1
    assert connector_calls(fake_teams) == [
        ("members", [conversation, "members"]),
        ("send", [conversation, "activities"]),
    ]
