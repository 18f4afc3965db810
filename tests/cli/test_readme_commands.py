"""Every `steward ...` the README tells a user to type names a command and options that exist."""

from __future__ import annotations

import re

import typer

from bot.cli import app
from tests.support.paths import README

SPAN = re.compile(r"`(steward [^`]+)`|^\s*(?:\.venv/bin/)?(steward [^\n#]+)", re.M)
COMMAND = re.compile(r"[a-z][a-z-]*")


def typed_commands() -> list[str]:
    """The README's `steward ...` lines, in code spans and in code blocks."""
    return [m[1] or m[2] for m in SPAN.finditer(README.read_text())]


def test_the_readme_names_only_commands_and_options_steward_has() -> None:
    cli = typer.main.get_command(app)
    commands = cli.commands  # type: ignore[attr-defined]
    top = {opt for p in cli.params for opt in p.opts}
    problems = []
    typed = typed_commands()
    for line in typed:
        words = line.replace("[", " ").replace("]", " ").replace("|", " ").split()[1:]
        options = {w.split("=")[0] for w in words if w.startswith("--")}
        name = next((w for w in words if COMMAND.fullmatch(w)), None)
        if name is None:  # `steward --version`, `steward --database FILE <command>`
            problems += [f"{line}: no option {o}" for o in sorted(options - top)]
            continue
        if name not in commands:
            problems.append(f"{line}: no command {name!r}")
            continue
        known = top | {opt for p in commands[name].params for opt in p.opts} | {"--help"}
        problems += [f"{line}: no option {o}" for o in sorted(options - known)]
    assert len(typed) > 20
    assert problems == []
