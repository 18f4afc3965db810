"""The `steward` command line: one module per command group, commands as plain functions."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer

from bot.cli import data, demo, jobs, manifests, processes, scores, sync

app = typer.Typer(
    help="Steward: customer-success signals from usage data, delivered to Slack and Teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
    rich_markup_mode=None,  # plain help: click's metavars (INTEGER, TEXT), no <bool> placeholders
)
for group in (scores, jobs, processes, data, demo, manifests, sync):
    group.register(app)


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"steward {metadata.version('steward')}")
        raise typer.Exit()


def _database(value: str | None) -> None:
    if value:  # the one place settings are read from: this command's environment
        is_url = "://" in value
        os.environ["DATABASE_URL"] = value if is_url else f"sqlite:///{Path(value).resolve()}"


@app.callback()
def main_options(
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            callback=_database,
            is_eager=True,
            help="The database of this command: a SQLite file or a database URL "
            "(default: $DATABASE_URL, else steward.db)",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print Steward's version and exit"
        ),
    ] = False,
) -> None:
    """Steward: customer-success signals from usage data, delivered to Slack and Teams."""


PRIVATE = 0o077  # files and folders Steward creates are its user's only


def main() -> None:
    """Entry point of the `steward` console script."""
    # Before anything is created: .env secrets, the SQLite book and its WAL (customer data
    # and a week of Slack response URLs), charts. chmod afterwards would leave a window.
    os.umask(PRIVATE)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
