"""Where the repository's files are, for tests that read the README, manifests and packages."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DATA = ROOT / "tests" / "support" / "data"
