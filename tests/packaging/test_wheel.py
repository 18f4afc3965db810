"""Steward installed the way production installs it: the wheel and its declared dependencies only.

No network is used: the wheel is built here, and the fresh environment gets exactly the
distributions ``steward``'s runtime requirements name (their closure, without extras),
copied from the environment the tests run in. A module imported at start that is not
declared is missing there, as it would be in production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement

from tests.support.cli import serving
from tests.support.paths import ROOT

NOT_SOURCE = (".git", ".venv", "build", "*.egg-info", ".*_cache", "__pycache__", "tests")


def runtime_closure(requires: list[str]) -> set[str]:
    """Every distribution a plain ``pip install`` of these requirements brings (no extras)."""
    seen: set[str] = set()
    todo = list(requires)
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        dist = metadata.distribution(req.name)
        key = dist.metadata["Name"].lower()
        if key not in seen:
            seen.add(key)
            todo.extend(dist.requires or [])
    return seen


def wheel_requires(wheel: Path) -> list[str]:
    """The Requires-Dist lines of the wheel just built (not of any installed copy)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(name).decode().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]


def copy_distribution(name: str, site: Path) -> None:
    dist = metadata.distribution(name)
    for file in dist.files or []:
        source = Path(str(dist.locate_file(file)))
        if file.parts[0] in ("..", "bin") or not source.is_file():
            continue
        target = site / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the built wheel and its runtime closure only."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # setuptools builds in the tree: keep the checkout clean
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (wheel,) = (work / "dist").glob("steward-*.whl")
    for name in sorted(runtime_closure(wheel_requires(wheel))):
        copy_distribution(name, site)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return env_dir


def test_the_wheel_declares_every_module_it_imports_at_start(installed: Path) -> None:
    python = installed / "bin" / "python"
    modules = [
        "bot.web",
        "bot.adapters.slack.app",
        "bot.adapters.teams.app",
        "bot.adapters.teams.auth",
        "bot.worker",
        "core.llm",
    ]
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    result = subprocess.run(
        [str(python), "-c", code, *modules],
        capture_output=True,
        text=True,
        cwd=installed,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[str]:
    env = {
        "PATH": f"{installed / 'bin'}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "SLACK_BOT_TOKEN": "xoxb-wheel-test",
        "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "MICROSOFT_APP_ID": "00000000-0000-0000-0000-000000000001",
        "MICROSOFT_APP_PASSWORD": "wheel-test-password",
        "MICROSOFT_APP_TENANT_ID": "00000000-0000-0000-0000-000000000002",
        "OPENAI_API_KEY": "sk-wheel-test-0123456789",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    }
    with serving(str(installed / "bin" / "steward"), cwd=tmp_path, env=env) as (url, _):
        yield url


def test_the_installed_wheel_serves_with_slack_teams_and_llm_configured(served: str) -> None:
    answer = httpx.get(f"{served}/healthz", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_the_installed_wheel_writes_the_teams_package(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(installed / "bin" / "steward"),
            "teams-manifest",
            "--app-id",
            "00000000-0000-0000-0000-000000000001",
            "--url",
            "https://cs.example.com",
            "--privacy-url",
            "https://example.com/privacy",
            "--terms-url",
            "https://example.com/terms",
        ],
        cwd=tmp_path,
        env={"PATH": str(installed / "bin"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with zipfile.ZipFile(tmp_path / "steward-teams.zip") as package:  # the icons are packaged
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
