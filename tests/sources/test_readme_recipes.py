"""The README's "Connect your systems" recipes work as written: its TOML loads, its curls store."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib

import pytest

from core.settings import load_settings
from tests.sources.conftest import SEGMENT_SECRET
from tests.support.paths import README
from tests.support.server import TEST_TOKEN, LiveServer

SECTION = (
    README.read_text(encoding="utf-8").split("## Connect your systems", 1)[1].split("\n## ")[0]
)


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", SECTION, re.S)


def test_the_mapping_example_is_valid_configuration() -> None:
    (example,) = blocks("toml")
    settings = load_settings(**tomllib.loads(example))
    assert settings.sources.segment.account == "properties.account_id"
    assert settings.sources.cloudevents.user == "data.user_id"
    assert settings.sources.stripe.account_metadata == "steward_account"
    assert settings.sources.zendesk.organizations == {"360001234567": "acme"}
    assert settings.sources.hubspot.properties["hs_arr"] == "arr"
    assert settings.sources.hubspot.owners == {"31337": "casey@example.com"}


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("curl", "openssl", "sed")),
    reason="needs curl, openssl and sed",
)
@pytest.mark.parametrize("recipe", [0, 1], ids=["segment", "cloudevents"])
def test_the_recipe_stores_what_it_says(live: LiveServer, recipe: int) -> None:
    script = blocks("sh")[recipe].replace("http://127.0.0.1:8000", live.url)
    expected = [line.removeprefix("# ") for line in script.splitlines() if line.startswith("# ")]
    env = {
        "PATH": os.environ["PATH"],
        "STEWARD_SEGMENT_SECRET": SEGMENT_SECRET,
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
    assert result.stdout.splitlines() == expected
