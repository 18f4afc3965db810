"""The Teams app package: the checked-in manifest, the icons, `steward teams-manifest`."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

from PIL import Image

from bot.adapters.teams.manifest import COMMANDS, ICON_DIR, manifest_json
from tests.support.cli import STEWARD, environment
from tests.support.paths import ROOT

APP_ID = "6f0c2b7e-1d3a-4c5b-9e8f-0a1b2c3d4e5f"


def test_the_checked_in_manifest_is_the_generated_one() -> None:
    assert (ROOT / "teams" / "manifest.json").read_text() == manifest_json()


def test_icons_have_the_sizes_teams_requires() -> None:
    with Image.open(ICON_DIR / "color.png") as color:
        assert color.size == (192, 192)
    with Image.open(ICON_DIR / "outline.png") as outline:
        assert outline.size == (32, 32)
        assert outline.mode == "RGBA"
        # an outline icon is white on transparent: no other colour may appear
        pixels = outline.tobytes()
        colours = {tuple(pixels[i : i + 3]) for i in range(0, len(pixels), 4) if pixels[i + 3] > 0}
        assert colours == {(255, 255, 255)}


def test_commands_fit_teams_limits() -> None:
    assert len(COMMANDS) <= 10
    for title, description in COMMANDS:
        assert len(title) <= 32
        assert len(description) <= 128


PAGES = (
    "--privacy-url",
    "https://acme.example/privacy",
    "--terms-url",
    "https://acme.example/terms",
)


def test_steward_teams_manifest_writes_a_package_to_upload(tmp_path: Path) -> None:
    result = subprocess.run(
        [STEWARD, "teams-manifest", "--app-id", APP_ID, "--url", "https://cs.example.com", *PAGES],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Upload a custom app" in result.stdout
    with zipfile.ZipFile(tmp_path / "steward-teams.zip") as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
    assert manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["validDomains"] == ["cs.example.com"]
    assert manifest["developer"]["websiteUrl"] == "https://cs.example.com"
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team", "groupChat"}
    assert manifest["developer"]["privacyUrl"] == "https://acme.example/privacy"
    assert manifest["developer"]["termsOfUseUrl"] == "https://acme.example/terms"


def test_steward_teams_manifest_refuses_plain_http_and_bad_ids(tmp_path: Path) -> None:
    for args, says in (
        (["--app-id", APP_ID, "--url", "http://cs.example.com", *PAGES], "https"),
        (["--app-id", "not-a-guid", "--url", "https://cs.example.com", *PAGES], "GUID"),
        (["--app-id", APP_ID, "--url", "https://cs.example.com"], "--privacy-url"),
        (
            [
                "--app-id",
                APP_ID,
                "--url",
                "https://x.example",
                *PAGES[:2],
                "--terms-url",
                "ftp://x",
            ],
            "https",
        ),
    ):
        result = subprocess.run(
            [STEWARD, "teams-manifest", *args],
            cwd=tmp_path,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert says in result.stderr + result.stdout
        assert not (tmp_path / "steward-teams.zip").exists()
