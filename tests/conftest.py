"""Shared fixtures: a real database (SQLite, or PostgreSQL when STEWARD_TEST_DATABASE_URL is set),
a real uvicorn server on loopback, and a sender that signs requests like a webhook provider."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import Engine, make_url

from bot.web import create_app
from core.settings import IngestLimits, Settings, load_settings, normalise_database_url
from services.container import Services, build_services
from storage import migrate, tables
from storage.db import make_engine
from tests.support.fakes.slack import FakeSlack
from tests.support.sender import Sender
from tests.support.server import (
    ROTATED_SECRET,
    SLACK_USER_EMAIL,
    TEST_SECRET,
    TEST_TOKEN,
    LiveServer,
)


def _postgres_url() -> str | None:
    url = os.environ.get("STEWARD_TEST_DATABASE_URL")
    return normalise_database_url(url) if url else None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this test session."""
    server_url = _postgres_url()
    if server_url is None:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'steward-test.db'}"
        return
    name = f"steward_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_dsn(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The session's database, emptied before each test."""
    with engine.begin() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            conn.execute(table.delete())
    return engine


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(
        database_url=database_url,
        webhook_secrets=[TEST_SECRET, ROTATED_SECRET],
        api_tokens=[TEST_TOKEN],
        ingest=IngestLimits(),  # the documented defaults, whatever a local steward.toml says
    )


@pytest.fixture
def services(settings: Settings, db: Engine) -> Services:
    return build_services(settings, engine=db)


@pytest.fixture
def live(services: Services) -> Iterator[LiveServer]:
    with LiveServer(create_app(services)) as server:
        yield server


@pytest.fixture
def sender(live: LiveServer) -> Iterator[Sender]:
    with Sender(live.url, secret=TEST_SECRET, token=TEST_TOKEN) as client:
        yield client


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token="xoxb-test") as fake:
        fake.add_user("U123", name="casey", email=SLACK_USER_EMAIL)
        fake.add_channel("C123", name="cs-team")
        yield fake
