"""Issue 22 row 12: what Steward writes (secrets, the SQLite book and its WAL, charts) is
private to its user from the moment it exists, whatever the umask it was started with."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from tests.support.cli import STEWARD, environment


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`steward` started the way a shell with the common umask 022 starts it."""
    return subprocess.run(
        [STEWARD, *args],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.umask(0o022),
    )


def test_secrets_and_the_book_are_created_private(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    assert run("migrate", cwd=tmp_path).returncode == 0
    assert mode(tmp_path / ".env") == 0o600
    book = tmp_path / "steward.db"
    assert mode(book) & 0o077 == 0, oct(mode(book))
    for journal in tmp_path.glob("steward.db-*"):
        assert mode(journal) & 0o077 == 0, (journal.name, oct(mode(journal)))
