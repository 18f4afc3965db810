"""`steward serve`, configured for Slack as the README says, answers /health with its chart."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.support.cli import STEWARD, environment, free_port
from tests.support.fakes.slack import FakeSlack
from tests.support.slack_world import BOT_TOKEN, SIGNING_SECRET, SlackClient, seed_book, texts


@pytest.fixture
def served(
    engine: Engine, database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> Iterator[tuple[SlackClient, list[str]]]:
    seed_book(engine)
    port = free_port()
    proc = subprocess.Popen(
        [STEWARD, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=environment(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake_slack.base_url,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    for line in proc.stderr:
        lines.append(line)
        if "Uvicorn running on" in line:
            break
    try:
        yield SlackClient(f"http://127.0.0.1:{port}", fake_slack), lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_steward_serve_answers_health_with_its_chart(
    served: tuple[SlackClient, list[str]],
) -> None:
    slack, startup = served
    assert "Slack: configured" in "".join(startup)
    assert slack.command("/health", "zorblax corp", "served").status_code == 200
    answer, with_chart = slack.fake.wait_for_responses("served", 2, timeout=30)
    assert "Zorblax Corp: health" in texts(answer)
    image = next(b for b in with_chart["blocks"] if b["type"] == "image")
    assert slack.fake.uploads[image["slack_file"]["id"]]["bytes"].startswith(b"\x89PNG")
