"""What every `steward` command shares: consoles, settings and the schema check."""

from __future__ import annotations

import logging
from typing import Any

import typer
from rich.console import Console

from core import logs
from core.logs import LogFormat
from core.settings import ConfigError, Settings, load_settings
from services.container import Services
from storage import migrate as migrations
from storage.db import DatabaseUnavailable

MAX_HEADER_BYTES = 64 * 1024  # a request line and headers together; more is answered 400
log = logging.getLogger("steward")
err = Console(stderr=True)
out = Console()


def settings() -> Settings:
    """Load the settings, or exit with the reason they are invalid."""
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def setup_logging(level: str, log_format: LogFormat = "text") -> None:
    """Log to stderr at the given level, as text or JSON lines (STEWARD_LOG_FORMAT)."""
    logs.configure(level, log_format)


def announce(config: Settings, line: str) -> None:
    """A start-up line: printed for a terminal, logged as a record with JSON logs."""
    if config.log_format == "json":
        log.info(line)
    else:
        err.print(line, markup=False)


def unreachable(exc: DatabaseUnavailable) -> typer.Exit:
    """Say the database cannot be reached; return the exit to raise."""
    err.print(f"Cannot reach the database: {exc}", style="red", markup=False)
    return typer.Exit(1)


def ensure_schema(services: Services) -> None:
    """Bring SQLite up to date on start; on PostgreSQL, refuse to run on an old schema."""
    try:
        waiting = migrations.pending(services.engine)
    except DatabaseUnavailable as exc:
        raise unreachable(exc) from None
    if not waiting:
        return
    if services.settings.is_sqlite:
        migrations.upgrade(services.engine)
        announce(
            services.settings,
            f"Database schema brought up to date ({len(waiting)} migration(s)).",
        )
        return
    err.print(
        f"[red]The database needs {len(waiting)} migration(s): run `steward migrate` "
        "(the Procfile's release process does).[/red]"
    )
    raise typer.Exit(1)


def server_options() -> dict[str, Any]:
    """uvicorn's options for every server Steward runs: h11, with a header size limit.

    httptools (uvicorn's default when installed) reads headers of any size; h11 buffers at
    most ``MAX_HEADER_BYTES`` of an unfinished request head, then answers 400 and closes.
    """
    return {"http": "h11", "h11_max_incomplete_event_size": MAX_HEADER_BYTES}


def check_bind(config: Settings, host: str) -> None:
    """Exit when anonymous Teams mode would listen on more than this machine's loopback."""
    from bot.adapters.teams.service_urls import is_loopback_host

    if config.teams_allow_anonymous and not is_loopback_host(host):
        err.print(
            f"TEAMS_ALLOW_ANONYMOUS trusts requests without a Bot Framework token, so Steward "
            f"serves it on loopback only, not on {host}: use --host 127.0.0.1 (or HOST), or "
            "turn TEAMS_ALLOW_ANONYMOUS off and give MICROSOFT_APP_ID and "
            "MICROSOFT_APP_PASSWORD (README: Microsoft Teams)",
            style="red",
            markup=False,
        )
        raise typer.Exit(2)
