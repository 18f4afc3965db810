"""The `steward` command line, run as a user runs it: a real process, a real port."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from storage.migrate import MIGRATIONS
from tests.support.cli import STEWARD, environment, serving, steward
from tests.support.server import TEST_TOKEN


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """`steward serve` on a fresh SQLite file; yields its URL once uvicorn says it is up."""
    with serving(STEWARD, cwd=tmp_path, env=environment(STEWARD_API_TOKENS=TEST_TOKEN)) as up:
        yield up


REVISIONS = sorted(  # each migration's revision id, as Alembic reports it
    re.search(r'^revision: str = "([^"]+)"', p.read_text(), re.M).group(1)  # type: ignore[union-attr]
    for p in MIGRATIONS.glob("versions/0*.py")
)


def test_serve_migrates_sqlite_and_reports_features(served: tuple[str, list[str]]) -> None:
    url, startup = served
    output = "".join(startup)
    assert f"Database schema brought up to date ({len(REVISIONS)} migration(s))." in output
    assert "HTTP API: on (0 webhook secret(s), 1 bearer token(s))" in output
    assert "Slack: off" in output
    assert TEST_TOKEN not in output
    assert httpx.get(f"{url}/readyz").json() == {"status": "ready"}
    response = httpx.post(
        f"{url}/v1/accounts",
        json={"id": "acme", "name": "Acme"},
        headers={"authorization": f"Bearer {TEST_TOKEN}"},
    )
    assert response.json()["accepted"] == 1


def test_bad_configuration_stops_with_a_message(tmp_path: Path) -> None:
    result = steward("serve", cwd=tmp_path, STEWARD_API_TOKENS="short", PORT="x")
    assert result.returncode == 2
    assert "Invalid configuration" in result.stderr
    assert "STEWARD_API_TOKENS" in result.stderr
    assert "PORT" in result.stderr


def test_init_writes_credentials_once(tmp_path: Path) -> None:
    first = steward("init", cwd=tmp_path)
    content = (tmp_path / ".env").read_text()
    second = steward("init", cwd=tmp_path)
    assert "Wrote local credentials" in first.stdout
    assert "already holds" in second.stdout
    assert (tmp_path / ".env").read_text() == content
    assert oct((tmp_path / ".env").stat().st_mode & 0o777) == "0o600"
    migrate = steward("migrate", cwd=tmp_path)  # the written secrets pass validation
    assert migrate.returncode == 0, migrate.stderr
    applied = f"Applied {len(REVISIONS)} migration(s): {', '.join(REVISIONS)}."
    assert applied in migrate.stdout
    assert "up to date" in steward("migrate", cwd=tmp_path).stdout


def test_migrate_against_an_unreachable_database(tmp_path: Path) -> None:
    result = steward("migrate", cwd=tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:1/x")
    assert result.returncode == 1
    assert result.stderr.startswith("Cannot reach the database: connection failed")
    assert "Traceback" not in result.stderr


def test_json_logs_are_one_object_a_line(tmp_path: Path) -> None:
    env = environment(STEWARD_LOG_FORMAT="json", STEWARD_API_TOKENS=TEST_TOKEN)
    with serving(STEWARD, cwd=tmp_path, env=env) as (_, lines):
        records = [json.loads(line) for line in lines]  # every line is a JSON object
    assert {"time", "level", "logger", "message"} <= set(records[0])
    messages = [r["message"] for r in records]
    assert any(m.startswith("Database schema brought up to date") for m in messages)
    assert any(m.startswith("Slack: off") for m in messages)
    assert any(r["logger"].startswith("uvicorn") for r in records)


def test_version_and_refused_option_values(tmp_path: Path) -> None:
    assert (
        steward("--version", cwd=tmp_path).stdout.strip()
        == f"steward {metadata.version('steward')}"
    )
    bogus = steward("outbox", "--status", "bogus", cwd=tmp_path)
    assert bogus.returncode == 2
    assert "'pending', 'sent', 'failed'" in " ".join(bogus.stderr.replace("│", " ").split())
    missing = steward("outbox", "--retry", "999", cwd=tmp_path)
    assert missing.returncode == 1
    assert "Not failed messages, left as they are: #999" in missing.stderr
    no_url = steward("slack-manifest", cwd=tmp_path)
    assert no_url.returncode == 2
    assert "--url" in no_url.stderr


def test_database_option_chooses_the_book_of_any_command(tmp_path: Path) -> None:
    result = steward("--database", "other.db", "migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "other.db").exists()
    assert not (tmp_path / "steward.db").exists()
    assert "up to date" in steward("--database", "other.db", "migrate", cwd=tmp_path).stdout
