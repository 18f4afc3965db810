"""Security issue row 6 on Teams: an alert for a CSM/AE goes to their personal chat with
Steward only if the roster says they are a full member of a home tenant.

The attack, over HTTP: a guest opens Steward in Teams once (a signed activity, so Steward
keeps a reference to their personal chat); whoever can write /v1/accounts sets an
account's csm to the guest's address; the account's next alert must not reach them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.adapters.teams.connector import Connector
from bot.adapters.teams.outbox import TeamsOutbox
from bot.cli import app
from digests.alerts import Evaluation, PassReport, record, route
from storage import teams as references
from storage.db import read_connection, write_transaction
from storage.repository import get_account
from tests.support.fakes.teams import FakeBotFramework
from tests.support.push_world import outbox_rows
from tests.support.sender import Sender
from tests.support.server import TEST_TOKEN
from tests.support.slack_world import NOW, Book, seed_book
from tests.support.teams_world import CASEY, DANA, PERSONAL, member, serve_teams, teams_services

DANA_CHAT = "a:1dana-personal-chat"
FEDERATED = {
    "id": "29:fed",
    "name": "Fred Partner",
    "aad": "aad-fred",
    "email": "fred@other.example",
}
FRED_CHAT = "a:1fred-personal-chat"


@pytest.fixture
def fake_teams() -> Iterator[FakeBotFramework]:
    with FakeBotFramework() as fake:
        member(fake, PERSONAL, CASEY)
        yield fake


@pytest.fixture
def book(db: Engine) -> Book:
    return seed_book(db)


def sender(db: Engine, fake: FakeBotFramework, database_url: str) -> TeamsOutbox:
    services = teams_services(db, database_url, fake)
    return TeamsOutbox(db, Connector.from_settings(services.settings, db))


def set_csm(db: Engine, database_url: str, fake: FakeBotFramework, account: str, csm: str) -> None:
    """POST /v1/accounts with a bearer token, as any system allowed to write the CRM can."""
    with (
        serve_teams(db, database_url, fake, api_tokens=[TEST_TOKEN]) as (_, client),
        Sender(client.url, secret="", token=TEST_TOKEN) as api,
    ):
        response = api.bearer("/v1/accounts", [{"id": account, "name": "Zorblax Corp", "csm": csm}])
        assert response.status_code == 200, response.text


def alert_for_owner(db: Engine, account: str) -> None:
    """A bill-shock alert opens for the account; no channel covers it, so it goes to its
    CSM's personal chat (the csm as stored, whoever wrote it)."""
    with write_transaction(db) as conn:
        stored = get_account(conn, account) or {}
        evaluation = Evaluation(
            account,
            "Zorblax Corp",
            stored.get("csm"),
            None,
            None,
            "scaled",
            {"bill_shock": "Month-end $9,000 against a usual $4,000."},
        )
        report = PassReport()
        notices = record(conn, [evaluation], now=NOW, baseline=False, report=report)
        route(conn, notices, [], platform="teams", now=NOW, report=report, direct=True)


def test_an_alert_for_a_csm_who_is_a_guest_does_not_reach_their_personal_chat(
    book: Book,
    db: Engine,
    database_url: str,
    fake_teams: FakeBotFramework,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member(fake_teams, DANA_CHAT, DANA, user_role="guest")
    with serve_teams(db, database_url, fake_teams) as (_, client):
        assert client.say("help", conversation=DANA_CHAT, sender=DANA).status_code == 200
    with read_connection(db) as conn:
        assert references.personal_chat(conn, DANA["email"]) is not None  # Steward knows it
    acme = book.ids["acme"]
    set_csm(db, database_url, fake_teams, acme, DANA["email"])
    alert_for_owner(db, acme)
    report = sender(db, fake_teams, database_url).send_due(NOW)
    assert (report.sent, report.failed) == (0, 1)
    assert fake_teams.activities(DANA_CHAT, kind="send") == []
    [row] = outbox_rows(db)
    assert (row.error or "").startswith("external_person")
    monkeypatch.setenv("DATABASE_URL", database_url)
    shown = CliRunner().invoke(app, ["outbox", "--status", "failed"])
    assert shown.exit_code == 0, shown.output
    assert "external_person" in shown.output


def test_an_alert_for_a_csm_of_another_tenant_does_not_reach_them(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with write_transaction(db) as conn:  # a personal chat Steward once had with them
        references.remember(
            conn,
            references.Conversation(
                conversation_id=FRED_CHAT,
                service_url=fake_teams.service_url,
                kind="personal",
                bot_id=f"28:{fake_teams.app_id}",
                tenant_id=fake_teams.tenant_id,
                user_id=FEDERATED["id"],
                user_aad_id=FEDERATED["aad"],
                user_email=FEDERATED["email"],
            ),
            now=NOW,
        )
    member(fake_teams, FRED_CHAT, FEDERATED, tenant_id="other-tenant")
    acme = book.ids["acme"]
    set_csm(db, database_url, fake_teams, acme, FEDERATED["email"])
    alert_for_owner(db, acme)
    assert sender(db, fake_teams, database_url).send_due(NOW).failed == 1
    assert fake_teams.activities(FRED_CHAT, kind="send") == []
    assert (outbox_rows(db)[0].error or "").startswith("external_person")


def test_without_the_roster_a_personal_chat_gets_nothing_yet(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams) as (_, client):
        assert client.say("help").status_code == 200  # Casey, a full member
    acme = book.ids["acme"]
    set_csm(db, database_url, fake_teams, acme, CASEY["email"])
    alert_for_owner(db, acme)
    fake_teams.fail_next("members", status=503, times=5)
    teams = sender(db, fake_teams, database_url)
    report = teams.send_due(NOW)
    assert (report.sent, report.retried) == (0, 1)
    assert fake_teams.activities(PERSONAL, kind="send") == []
    assert "roster unavailable" in (outbox_rows(db)[0].error or "")


def test_an_alert_for_a_full_member_still_reaches_their_personal_chat(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams) as (_, client):
        assert client.say("help").status_code == 200
    acme = book.ids["acme"]
    set_csm(db, database_url, fake_teams, acme, CASEY["email"])
    alert_for_owner(db, acme)
    assert sender(db, fake_teams, database_url).send_due(NOW).sent == 1
    assert len(fake_teams.activities(PERSONAL, kind="send")) == 1
