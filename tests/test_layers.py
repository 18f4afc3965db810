"""The architecture as data, checked on every module's imports (read by AST, not run).

Top to bottom, each part of the tree may import only the parts listed beside it (and
itself). Every import counts: at the top of a module, inside a function, or under
TYPE_CHECKING, because each is a dependency someone has to understand.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.paths import ROOT

APPLICATION = {
    "services",
    "demo",
    "handlers.chat",
    "handlers.api",
    "sources",
    "digests",
    "storage",
    "core",
}
KERNEL = {"core", "signals"}
ADAPTERS = {"bot.adapters", "bot.adapters.slack", "bot.adapters.teams", "bot.adapters.console"}
MAY_IMPORT: Mapping[str, set[str]] = {  # top to bottom; a part may always import itself
    "bot.cli": {"bot.web", "bot.worker", *ADAPTERS, *APPLICATION, *KERNEL},
    "bot.web": {"bot.operations", *ADAPTERS, *APPLICATION, *KERNEL},
    "bot.operations": {*APPLICATION, *KERNEL},  # the web app's routes for operators
    "bot.worker": {*ADAPTERS, *APPLICATION, *KERNEL},
    "bot.adapters.slack": {"bot.adapters", *APPLICATION, *KERNEL},
    "bot.adapters.teams": {"bot.adapters", *APPLICATION, *KERNEL},
    "bot.adapters.console": {"bot.adapters", *APPLICATION, *KERNEL},
    "bot.adapters": {*APPLICATION, *KERNEL},
    "demo": {"services", "handlers.chat", "handlers.api", "digests", "storage", *KERNEL},
    "services": {"handlers.chat", "handlers.api", "sources", "digests", "storage", *KERNEL},
    "handlers.chat": {"digests", "storage", *KERNEL},
    "sources": {"handlers.api", *KERNEL},  # vendor payloads -> the records handlers.api checks
    "handlers.api": {"storage", *KERNEL},
    "digests": {"storage", *KERNEL},
    "storage": KERNEL,
    "core": {"signals"},
    "signals": set(),
    "bot": set(),  # the namespaces themselves hold nothing
    "handlers": set(),
}
# Libraries a part must not use: the platforms and the web stay in bot/, I/O out of signals/.
PLATFORMS = frozenset({"slack_bolt", "slack_sdk", "microsoft_agents", "fastapi", "starlette"})
NOT_IN: Mapping[str, frozenset[str]] = {
    "demo": PLATFORMS,
    "services": PLATFORMS,
    "handlers": PLATFORMS,
    "sources": PLATFORMS | {"httpx", "sqlalchemy", "sqlmodel"},
    "digests": PLATFORMS | {"openai", "httpx"},
    "storage": PLATFORMS | {"openai", "httpx", "matplotlib"},
    "core": PLATFORMS | {"sqlalchemy", "sqlmodel", "psycopg"},
}
SIGNALS_MAY_USE = frozenset({"numpy", "scipy"})  # and the standard library, without I/O:
SIGNALS_NO_IO = frozenset({"os", "pathlib", "socket", "urllib", "subprocess", "importlib", "io"})
SIGNALS_NO_CALLS = frozenset({"open", "print", "input", "exec", "eval", "__import__"})
OURS = frozenset(
    {"bot", "core", "demo", "digests", "handlers", "services", "signals", "sources", "storage"}
)


def part_of(module: str) -> str:
    """The most specific part of the layout a module belongs to."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in MAY_IMPORT:
            return ".".join(parts[:end])
    return parts[0]  # a bare package (`import bot`): no part may import it


def imports(source: str, module: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the source, relative ones resolved."""
    package = module if module.endswith("__init__") else module.rpartition(".")[0]
    package = package.removesuffix(".__init__")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            if base.split(".")[0] in OURS:  # `from pkg import module` names a module too
                yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)
            else:
                yield node.lineno, base


def problems(source: str, module: str) -> list[str]:
    """Every import (or, in signals, call) in this module that breaks the layout."""
    mine = part_of(module)
    top = module.split(".")[0]
    found = []
    for line, name in imports(source, module):
        first = name.split(".")[0]
        if first in OURS:
            theirs = part_of(name)
            if theirs != mine and theirs not in MAY_IMPORT[mine]:
                found.append(f"line {line}: {mine} imports {theirs}")
        elif top == "signals" and (
            first in SIGNALS_NO_IO
            or (first not in sys.stdlib_module_names and first not in SIGNALS_MAY_USE)
        ):
            found.append(f"line {line}: signals imports {name}")
        elif first in NOT_IN.get(top, frozenset()):
            found.append(f"line {line}: {top} uses {first}")
    if top == "signals":
        found += [
            f"line {n.lineno}: signals calls {n.func.id}()"
            for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id in SIGNALS_NO_CALLS
        ]
    return found


def modules() -> list[tuple[str, Path]]:
    found = []
    for top in sorted(OURS):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in path.parts:  # Alembic's scripts: storage's own, run by Alembic
                continue
            relative = path.relative_to(ROOT).with_suffix("")
            found.append((".".join(relative.parts).removesuffix(".__init__"), path))
    return found


MODULES = modules()


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_module_keeps_to_its_layer(module: str, path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8"), module) == []


def test_the_layers_form_no_cycle() -> None:
    seen: dict[str, str] = {}

    def visit(part: str, trail: tuple[str, ...]) -> None:
        assert part not in trail, f"cycle: {' -> '.join((*trail, part))}"
        if seen.get(part) == "done":
            return
        for below in MAY_IMPORT[part]:
            visit(below, (*trail, part))
        seen[part] = "done"

    for part in MAY_IMPORT:
        visit(part, ())


def test_no_module_imports_another_that_imports_it_back() -> None:
    ours = {module for module, _ in MODULES}
    graph = {
        module: sorted(
            {
                target
                for _, name in imports(path.read_text(encoding="utf-8"), module)
                for target in (name, name.rpartition(".")[0])
                if target in ours and target != module and not module.startswith(f"{target}.")
            }
        )
        for module, path in MODULES
    }
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, f"import cycle: {' -> '.join((*trail, module))}"
        if module in done:
            return
        for target in graph[module]:
            visit(target, (*trail, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_every_part_of_the_tree_is_checked() -> None:
    parts = {part_of(module) for module, _ in MODULES}
    assert parts == set(MAY_IMPORT)
    assert len(MODULES) > 100


@pytest.mark.parametrize(
    ("source", "module", "found"),
    [
        ("from bot.web import create_app", "services.jobs", ["line 1: services imports bot.web"]),
        (
            "from services import scoring",
            "handlers.chat.x",
            ["line 1: handlers.chat imports services"],
        ),
        (
            "from handlers.chat import cards",
            "digests.alerts",
            ["line 1: digests imports handlers.chat"],
        ),
        (
            "import bot.adapters.teams.x",
            "bot.adapters.slack.x",
            ["line 1: bot.adapters.slack imports bot.adapters.teams"],
        ),
        ("import bot", "core.settings", ["line 1: core imports bot"]),
        ("from slack_sdk import WebClient", "digests.alerts", ["line 1: digests uses slack_sdk"]),
        ("def f():\n    import httpx", "signals.health", ["line 2: signals imports httpx"]),
        ("import os.path as p", "signals.model", ["line 1: signals imports os.path"]),
        ("from storage.history import x", "signals.model", ["line 1: signals imports storage"]),
        ("x = open('f')", "signals.series", ["line 1: signals calls open()"]),
        ("from . import render", "bot.adapters.slack.outbox", []),
        ("from ..outbox import Sender", "bot.adapters.slack.outbox", []),
        ("import math\nimport numpy as np\nfrom signals.series import mean", "signals.health", []),
        (
            "from handlers.chat.context import Context\nfrom digests import compose",
            "handlers.chat.x",
            [],
        ),
    ],
)
def test_the_check_itself(source: str, module: str, found: list[str]) -> None:
    assert problems(source, module) == found
