"""When the database goes away, senders get 503 with Retry-After and nothing is half-written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from bot.web import create_app
from core.settings import Settings
from services.container import build_services
from tests.support.events import batch
from tests.support.sender import Sender
from tests.support.server import TEST_SECRET, TEST_TOKEN, LiveServer, counts


@pytest.fixture
def lose_database_at_rollups(db: Engine, is_postgres: bool) -> Iterator[list[str]]:
    """Kill the database connection at the statement that writes events and rollups, after
    the placeholder accounts were written in the same transaction.

    On PostgreSQL the server terminates the backend (as a restart or failover would);
    on SQLite the statement fails inside the engine with an I/O-level OperationalError.
    """
    fired: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool):
        start = statement.lstrip().upper()
        if fired or not start.startswith(("INSERT INTO USAGE_DAILY", "WITH NEW AS")):
            return statement, params
        fired.append(statement)
        if is_postgres:
            pid = conn.connection.dbapi_connection.info.backend_pid
            dsn = make_url(str(db.url)).set(drivername="postgresql")
            with psycopg.connect(dsn.render_as_string(hide_password=False), autocommit=True) as a:
                a.execute("SELECT pg_terminate_backend(%s)", (pid,))
            return statement, params
        return "INSERT INTO storage_device_gone VALUES (1)", ()

    event.listen(db, "before_cursor_execute", before, retval=True)
    yield fired
    event.remove(db, "before_cursor_execute", before)


def test_database_lost_mid_request_gives_503_and_no_partial_write(
    sender: Sender, db: Engine, lose_database_at_rollups: list[str]
) -> None:
    payload = batch(25)

    response = sender.signed("/v1/events", payload, msg_id="msg_outage")

    assert lose_database_at_rollups, "the failure was not injected"
    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert "not confirmed: retry with the same delivery id" in response.json()["message"]
    stored = counts(db)
    assert (stored["events"], stored["accounts"], stored["deliveries"]) == (0, 0, 0)

    retry = sender.signed("/v1/events", payload, msg_id="msg_outage")  # the sender retries

    assert retry.status_code == 200
    assert retry.json() == {"received": 25, "accepted": 25, "duplicates": 0}
    assert counts(db)["daily_events"] == 25


@pytest.fixture
def lose_database_after_commit(db: Engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The connection goes right after the database committed the first time (the answer
    to COMMIT is lost, as when the server stops at that instant): stored, not confirmed."""
    fired: list[str] = []
    commit = db.dialect.do_commit

    def commit_then_lose(dbapi_connection: Any) -> None:
        commit(dbapi_connection)
        if not fired:
            fired.append("commit")
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.dialect, "do_commit", commit_then_lose)
    return fired


def test_a_batch_stored_just_before_the_database_went_is_not_confirmed_nor_doubled(
    sender: Sender, db: Engine, lose_database_after_commit: list[str]
) -> None:
    payload = batch(25)

    response = sender.signed("/v1/events", payload, msg_id="msg_commit_lost")

    assert lose_database_after_commit, "the failure was not injected"
    assert response.status_code == 503
    message = response.json()["message"]
    assert "not confirmed: retry with the same delivery id" in message
    assert "nothing was stored" not in message  # it was: saying so would be wrong
    assert counts(db)["events"] == 25

    retry = sender.signed("/v1/events", payload, msg_id="msg_commit_lost")

    assert retry.status_code == 200
    assert retry.json()["duplicate_delivery"] is True
    assert counts(db)["daily_events"] == 25  # counted once


@pytest.fixture
def unreachable_settings(settings: Settings, is_postgres: bool, tmp_path: Any) -> Settings:
    if is_postgres:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/steward"
    else:
        url = f"sqlite:///{tmp_path}/no/such/dir/steward.db"
    return settings.model_copy(update={"database_url": url})


def test_unreachable_database_gives_503_everywhere(unreachable_settings: Settings) -> None:
    services = build_services(unreachable_settings)
    with (
        LiveServer(create_app(services)) as server,
        Sender(server.url, secret=TEST_SECRET, token=TEST_TOKEN) as sender,
    ):
        ingest = sender.signed("/v1/events", batch(3))
        read = sender.get("/v1/accounts/acme/usage")
        alive = sender.unauthenticated("GET", "/healthz")
        ready = sender.unauthenticated("GET", "/readyz")
        detail = sender.get("/readyz")

    for response in (ingest, read):
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        assert response.json()["error"] == "unavailable"
    assert alive.json() == {"status": "ok"}  # the process is alive: no restart would help
    assert ready.status_code == 503
    assert ready.json() == {"status": "not_ready", "error": "unavailable"}  # nothing internal
    assert detail.status_code == 503
    assert detail.json()["detail"].startswith("database unreachable")  # for operators only
    services.engine.dispose()


def test_a_bug_answers_json_500_and_stores_nothing(
    sender: Sender, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("storage.repository.finish_delivery", broken)
    response = sender.signed("/v1/events", batch(5))
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal",
        "message": "unexpected error in Steward; nothing was stored",
    }
    assert counts(db)["events"] == 0
