"""The `steward` command line: one module per command group, commands as plain functions."""

from __future__ import annotations

import sys

import typer

from bot.cli import data, demo, jobs, manifests, processes, scores

app = typer.Typer(
    help="Steward: customer-success signals from usage data, delivered to Slack and Teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
for group in (scores, jobs, processes, data, demo, manifests):
    group.register(app)


def main() -> None:
    """Entry point of the `steward` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
