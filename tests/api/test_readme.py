"""The README's quick-start walk-through works as written: signed with openssl, sent with curl."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.support.paths import README
from tests.support.server import TEST_SECRET, TEST_TOKEN, LiveServer


def walkthrough() -> str:
    text = README.read_text()
    after = text.split("In a second terminal", 1)[1]
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    assert match, "the README lost its curl walk-through"
    return match.group(1)


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("curl", "openssl", "od", "base64")),
    reason="needs curl, openssl, od and base64",
)
def test_readme_curl_walkthrough(live: LiveServer) -> None:
    script = walkthrough().replace("set -a; . ./.env; set +a", ":")
    script = script.replace("http://127.0.0.1:8000", live.url)
    env = {
        "PATH": os.environ["PATH"],
        "STEWARD_WEBHOOK_SECRETS": TEST_SECRET,
        "STEWARD_API_TOKENS": TEST_TOKEN,
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == '{"received":2,"accepted":2,"duplicates":0}'
    assert '"tokens":[{"date":"2026-11-20","quantity":1500.0,"events":2}]' in lines[1]
