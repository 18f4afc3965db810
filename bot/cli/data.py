"""`steward migrate | import | init`: the database, backfills and local credentials."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from bot.cli.common import ensure_schema, err, out, settings, unreachable
from services.container import build_services
from storage import migrate as migrations
from storage.db import DatabaseUnavailable

if TYPE_CHECKING:
    from services.importer import ImportSummary

KINDS = ("events", "accounts", "contracts", "tickets", "usage")
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
        out.print(f"Applied {len(waiting)} migration(s): {', '.join(waiting)}.", soft_wrap=True)
    else:
        out.print("Database schema is up to date.")


def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    kind: Annotated[
        str, typer.Option("--kind", help="events, accounts, contracts, tickets or usage")
    ],
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="jsonl, csv, tsv or xlsx (default: from the extension)"),
    ] = None,
    column_map: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="field=column pairs, e.g. account=customer_id,metric=event "
            "(on top of [import.map.<kind>] in steward.toml)",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="validate and report every error; write nothing")
    ] = False,
) -> None:
    """Backfill a JSON Lines, CSV, TSV or XLSX file; a re-run of the same file adds nothing."""
    from services.importer import MappingError, detect_format, import_file, parse_map

    if kind not in KINDS:
        err.print(f"[red]--kind must be one of {', '.join(KINDS)}[/red]")
        raise typer.Exit(2)
    config = settings()
    try:
        fmt = detect_format(file, file_format)
        mapping = parse_map(column_map, config.import_map.get(kind))
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    services = build_services(config)
    if not dry_run:
        ensure_schema(services)
    size = max(file.stat().st_size, 1)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TimeRemainingColumn(), console=err) as progress:
        task = progress.add_task(f"importing {kind}", total=size)
        try:
            summary = import_file(
                services.engine,
                file,
                kind,  # type: ignore[arg-type]
                file_format=fmt,
                limits=services.settings.ingest,
                now=services.clock,
                mapping=mapping,
                dry_run=dry_run,
                progress=lambda done: progress.update(task, completed=done * size),
            )
        except MappingError as exc:
            err.print(f"[red]--map: {exc}[/red]")
            raise typer.Exit(2) from None
        except DatabaseUnavailable as exc:
            err.print(
                f"[red]Database unavailable: {exc}. Re-run the import: it adds nothing twice.[/red]"
            )
            raise typer.Exit(1) from None
    _report(summary, dry_run=dry_run)


def _report(summary: ImportSummary, *, dry_run: bool) -> None:
    if dry_run:
        out.print(
            f"Dry run, nothing written: {summary.rows} rows read, {summary.accepted} valid, "
            f"{summary.rejected_rows} rejected"
        )
    else:
        out.print(
            f"{summary.rows} rows read: {summary.accepted} accepted, "
            f"{summary.duplicates} duplicates, {summary.rejected_rows} rejected"
        )
    for rejected in summary.rejected[:REJECTIONS_SHOWN]:
        where = f" {rejected.field}:" if rejected.field else ""
        out.print(f"  line {rejected.line}:{where} {rejected.reason}", soft_wrap=True)
    if len(summary.rejected) > REJECTIONS_SHOWN:
        out.print(f"  ... and {len(summary.rejected) - REJECTIONS_SHOWN} more errors")
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
