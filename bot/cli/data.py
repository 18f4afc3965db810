"""`steward migrate | import | init`: the database, backfills and local credentials."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from bot.cli.common import ensure_schema, err, out, settings, unreachable
from services.container import build_services
from storage import migrate as migrations
from storage.db import DatabaseUnavailable

KINDS = ("events", "accounts", "contracts", "tickets")
REJECTIONS_SHOWN = 50


def migrate() -> None:
    """Apply database migrations (the Procfile's release process)."""
    services = build_services(settings())
    try:
        waiting = migrations.pending(services.engine)
        migrations.upgrade(services.engine)
    except DatabaseUnavailable as exc:
        raise unreachable(exc) from None
    if waiting:
        out.print(f"Applied {len(waiting)} migration(s): {', '.join(waiting)}.")
    else:
        out.print("Database schema is up to date.")


def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    kind: Annotated[str, typer.Option("--kind", help="events, accounts, contracts or tickets")],
    file_format: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: from the extension)")
    ] = None,
) -> None:
    """Backfill a JSON Lines or CSV file; a re-run of the same file adds nothing."""
    from services.importer import detect_format, import_file

    if kind not in KINDS:
        err.print(f"[red]--kind must be one of {', '.join(KINDS)}[/red]")
        raise typer.Exit(2)
    try:
        fmt = detect_format(file, file_format)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    services = build_services(settings())
    ensure_schema(services)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(f"importing {kind}", total=file.stat().st_size)
        try:
            summary = import_file(
                services.engine,
                file,
                kind,  # type: ignore[arg-type]
                file_format=fmt,
                limits=services.settings.ingest,
                now=services.clock,
                progress=lambda done: progress.update(task, completed=done),
            )
        except DatabaseUnavailable as exc:
            err.print(
                f"[red]Database unavailable: {exc}. Re-run the import: it adds nothing twice.[/red]"
            )
            raise typer.Exit(1) from None
    out.print(
        f"{summary.rows} rows read: {summary.accepted} accepted, "
        f"{summary.duplicates} duplicates, {len(summary.rejected)} rejected"
    )
    for rejected in summary.rejected[:REJECTIONS_SHOWN]:
        where = f" {rejected.field}:" if rejected.field else ""
        out.print(f"  line {rejected.line}:{where} {rejected.reason}")
    if len(summary.rejected) > REJECTIONS_SHOWN:
        out.print(f"  ... and {len(summary.rejected) - REJECTIONS_SHOWN} more rejected rows")
    if summary.rejected:
        raise typer.Exit(1)


def init(
    env_file: Annotated[Path, typer.Option(help="Where to write the local secrets")] = Path(".env"),
) -> None:
    """Create local credentials (a bearer token and a webhook secret) in .env, once."""
    existing = env_file.read_text() if env_file.exists() else ""
    additions = []
    if "STEWARD_API_TOKENS=" not in existing:
        additions.append(f"STEWARD_API_TOKENS={secrets.token_urlsafe(32)}")
    if "STEWARD_WEBHOOK_SECRETS=" not in existing:
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        additions.append(f"STEWARD_WEBHOOK_SECRETS=whsec_{key}")
    if not additions:
        out.print(f"{env_file} already holds STEWARD_API_TOKENS and STEWARD_WEBHOOK_SECRETS.")
        return
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    with env_file.open("a") as fh:
        fh.write(prefix + "\n".join(additions) + "\n")
    env_file.chmod(0o600)
    out.print(f"Wrote local credentials to {env_file} (keep it out of version control).")


def register(app: typer.Typer) -> None:
    """Add the data commands to the CLI."""
    app.command()(migrate)
    app.command("import")(import_)
    app.command()(init)
