"""signals/ stays pure: no I/O, no framework, nothing from the rest of Steward; stdlib + numpy."""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
import sys
from pathlib import Path

import pytest

import signals

BANNED = frozenset(
    {
        "sqlmodel",
        "sqlalchemy",
        "slack_bolt",
        "slack_sdk",
        "httpx",
        "requests",
        "botbuilder",
        "microsoft_agents",
        "openai",
        "fastapi",
        "psycopg",
        "socket",
        "urllib",
        "os",
        "pathlib",
        "subprocess",
        "bot",
        "handlers",
        "storage",
        "digests",
        "importlib",  # a way round all of the above
    }
)
ALLOWED_THIRD_PARTY = frozenset({"numpy", "signals"})
BANNED_CALLS = frozenset({"open", "print", "input", "exec", "eval", "__import__"})


def _modules() -> list[tuple[str, Path]]:
    found = []
    for info in pkgutil.walk_packages(signals.__path__, prefix="signals."):
        spec = importlib.util.find_spec(info.name)
        assert spec is not None
        assert spec.origin is not None
        found.append((info.name, Path(spec.origin)))
    return found


def problems(source: str) -> list[str]:
    """What in this module's source breaks the package's purity."""
    out = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in names:
                top = name.split(".")[0]
                if top in BANNED:
                    out.append(f"line {node.lineno}: imports {name}")
                elif top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY:
                    out.append(f"line {node.lineno}: imports {name}, neither stdlib nor numpy")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in BANNED_CALLS
        ):
            out.append(f"line {node.lineno}: calls {node.func.id}()")
    return out


MODULES = _modules()


def test_every_module_of_the_package_is_checked() -> None:
    names = {name for name, _ in MODULES}
    assert {
        "signals.model",
        "signals.config",
        "signals.consumption",
        "signals.commit",
        "signals.health",
        "signals.evaluate",
        "signals.backtest",
        "signals.calibrate",
    } <= names
    assert len(names) >= 17


@pytest.mark.parametrize(("name", "path"), MODULES, ids=[name for name, _ in MODULES])
def test_module_is_pure(name: str, path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8")) == [], name


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import os", ["line 1: imports os"]),
        ("import os.path as p", ["line 1: imports os.path"]),
        ("from pathlib import Path", ["line 1: imports pathlib"]),
        ("from urllib.request import urlopen", ["line 1: imports urllib.request"]),
        ("from storage.history import x", ["line 1: imports storage.history"]),
        ("import bot.scoring", ["line 1: imports bot.scoring"]),
        ("def f():\n    import httpx", ["line 2: imports httpx"]),
        ("import pandas", ["line 1: imports pandas, neither stdlib nor numpy"]),
        ("x = open('f')", ["line 1: calls open()"]),
        ("import math\nimport numpy as np\nfrom signals.series import mean\nfrom . import x", []),
    ],
)
def test_the_check_itself(source: str, found: list[str]) -> None:
    assert problems(source) == found


def test_importing_signals_loads_no_framework_nor_the_rest_of_steward() -> None:
    # The same rule at run time, in a fresh interpreter. (Only the non-stdlib names:
    # numpy itself loads os and pathlib.)
    import subprocess

    names = ", ".join(repr(name) for name, _ in MODULES)
    banned = ", ".join(repr(b) for b in sorted(BANNED - sys.stdlib_module_names))
    code = (
        "import importlib, sys\n"
        f"for name in [{names}]:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & {{{banned}}})\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(signals.__path__[0]).parent,
    )
    assert result.stdout.strip() == ""
