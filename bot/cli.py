"""The `steward` command line."""

from __future__ import annotations

import base64
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from bot import cli_jobs, cli_scores
from bot.app import build_services
from bot.cli_common import ensure_schema, err, out, settings, setup_logging, unreachable
from bot.config import Settings
from storage import migrate as migrations
from storage.db import DatabaseUnavailable

app = typer.Typer(
    help="Steward: customer-success signals from usage data, delivered to Slack and Teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
cli_scores.register(app)
cli_jobs.register(app)
KINDS = ("events", "accounts", "contracts", "tickets")
REJECTIONS_SHOWN = 50


def _with_socket_mode(config: Settings) -> Settings:
    """The settings with Socket Mode on, or exit saying what is missing."""
    missing = [
        name
        for name, value in (
            ("SLACK_APP_TOKEN", config.slack_app_token),
            ("SLACK_BOT_TOKEN", config.slack_bot_token),
            ("SLACK_SIGNING_SECRET", config.slack_signing_secret),
        )
        if value is None
    ]
    if missing:
        err.print(f"--socket-mode needs {', '.join(missing)} (see README: Slack)", style="red")
        raise typer.Exit(2)
    return config.model_copy(update={"slack_socket_mode": True})


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: $HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 8000)")] = None,
    workers: Annotated[
        int, typer.Option(envvar="WEB_CONCURRENCY", min=1, help="Processes (default 1)")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    socket_mode: Annotated[
        bool,
        typer.Option(
            "--socket-mode",
            help="Also take Slack's requests over Socket Mode (development behind a "
            "firewall; needs SLACK_APP_TOKEN)",
        ),
    ] = False,
) -> None:
    """Run the web app: ingestion webhooks, Slack at /slack/events, reads, health checks."""
    import uvicorn

    from bot.web import create_app

    setup_logging(log_level)
    config = settings()
    if socket_mode:
        config = _with_socket_mode(config)
    services = build_services(config)
    ensure_schema(services)
    for line in config.feature_report():
        err.print(line)
    bind_host, bind_port = host or config.host, port or config.port
    if workers == 1 or socket_mode:
        uvicorn.run(
            create_app(services),
            host=bind_host,
            port=bind_port,
            log_level=log_level,
            proxy_headers=True,
        )
        return
    services.engine.dispose()  # each worker process builds its own
    uvicorn.run(
        "bot.web:app_from_environment",
        factory=True,
        workers=workers,
        host=bind_host,
        port=bind_port,
        log_level=log_level,
        proxy_headers=True,
    )


@app.command()
def worker(
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """Run the scheduler: alerts each minute, digests at local times, the daily snapshot."""
    from bot.worker import run_worker

    setup_logging(log_level)
    config = settings()
    services = build_services(config)
    ensure_schema(services)
    for line in config.feature_report():
        err.print(line)
    run_worker(services)


@app.command()
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


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    kind: Annotated[str, typer.Option("--kind", help="events, accounts, contracts or tickets")],
    file_format: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: from the extension)")
    ] = None,
) -> None:
    """Backfill a JSON Lines or CSV file; a re-run of the same file adds nothing."""
    from handlers.importer import detect_format, import_file

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


@app.command()
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


@app.command()
def demo(
    database: Annotated[
        Path, typer.Option(help="The demo's SQLite file (DATABASE_URL is left alone)")
    ] = Path("steward-demo.db"),
    seed: Annotated[int, typer.Option(help="The generated book's seed")] = 7,
    accounts: Annotated[int, typer.Option(min=20, max=5000, help="Accounts in the book")] = 200,
    charts: Annotated[Path, typer.Option(help="Where chart images are saved")] = Path(
        "steward-demo-charts"
    ),
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete the demo file first")] = False,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Print everything, then exit (no prompt)")
    ] = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="After printing, serve the web app on the demo data")
    ] = False,
    port: Annotated[int | None, typer.Option(help="Port for --serve (default: $PORT)")] = None,
) -> None:
    """Generate a year of usage, run the real jobs, print the digests, then answer /health."""
    from bot import demo as demo_run

    options = demo_run.Options(database, charts, seed, accounts, fresh)
    try:
        shown, session = demo_run.run(settings(), options, out=out, err=err)
    except demo_run.DemoError as exc:
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(1) from None
    except DatabaseUnavailable as exc:
        raise unreachable(exc) from None
    err.print(f"Timings: {shown.timings.words()}.", markup=False)
    if serve:
        demo_run.serve(shown, err=err, host=None, port=port)
    elif not no_input:
        demo_run.interact(shown, session, out)


def main() -> None:
    """Entry point of the `steward` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


@app.command("slack-manifest")
def slack_manifest(
    url: Annotated[
        str,
        typer.Option(help="The public https address of `steward serve`, e.g. https://cs.acme.io"),
    ] = "https://steward.example.com",
) -> None:
    """Print the Slack app manifest for this host (paste it into api.slack.com/apps)."""
    from bot.adapters.slack.manifest import manifest_yaml

    if not url.startswith("https://"):
        err.print("Slack only calls https:// addresses: give --url https://your-host")
        raise typer.Exit(2)
    sys.stdout.write(manifest_yaml(url))


@app.command("teams-manifest")
def teams_manifest(
    app_id: Annotated[
        str,
        typer.Option(
            "--app-id",
            envvar="MICROSOFT_APP_ID",
            help="The bot's Microsoft app id (Azure Bot resource), a GUID",
        ),
    ],
    url: Annotated[
        str,
        typer.Option(help="The public https address of `steward serve`, e.g. https://cs.acme.io"),
    ],
    output: Annotated[
        Path, typer.Option(help="Where to write the app package to upload in Teams")
    ] = Path("steward-teams.zip"),
) -> None:
    """Write the Teams app package (manifest + icons) to side-load in Teams."""
    import uuid

    from bot.adapters.teams.manifest import host_of, package

    try:
        uuid.UUID(app_id)
        host_of(url)
    except ValueError as exc:
        message = str(exc) if "https" in str(exc) else "--app-id must be a GUID (the app id)"
        err.print(message)
        raise typer.Exit(2) from None
    output.write_bytes(package(app_id, url))
    out.print(
        f"Wrote {output}: in Teams, Apps > Manage your apps > Upload an app > "
        "Upload a custom app, and pick this file."
    )
