"""`steward serve` and `steward worker`: the Procfile's long-running processes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli.common import (
    announce,
    check_bind,
    ensure_schema,
    err,
    server_options,
    settings,
    setup_logging,
)
from core.settings import Settings
from services.container import build_services


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

    config = settings()
    setup_logging(log_level, config.log_format)
    if socket_mode:
        config = _with_socket_mode(config)
    bind_host, bind_port = host or config.host, port or config.port
    check_bind(config, bind_host)
    services = build_services(config)
    ensure_schema(services)
    for line in config.feature_report():
        announce(config, line)
    if workers == 1 or socket_mode:
        uvicorn.run(
            create_app(services),
            host=bind_host,
            port=bind_port,
            log_level=log_level,
            proxy_headers=True,
            log_config=_uvicorn_logging(config),
            **server_options(),
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
        log_config=_uvicorn_logging(config),
        **server_options(),
    )


def _uvicorn_logging(config: Settings) -> dict[str, Any] | None:
    """uvicorn's own text logging, or none (its records reach Steward's JSON handler)."""
    from uvicorn.config import LOGGING_CONFIG

    return None if config.log_format == "json" else LOGGING_CONFIG


def worker(
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """Run the scheduler: alerts each minute, digests at local times, the daily snapshot."""
    from bot.worker import run_worker

    config = settings()
    setup_logging(log_level, config.log_format)
    services = build_services(config)
    ensure_schema(services)
    for line in config.feature_report():
        announce(config, line)
    run_worker(services)


def register(app: typer.Typer) -> None:
    """Add the process commands to the CLI."""
    app.command()(serve)
    app.command()(worker)
