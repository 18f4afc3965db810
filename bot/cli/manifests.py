"""`steward slack-manifest | teams-manifest`: the platform apps' manifests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import err, out


def slack_manifest(
    url: Annotated[
        str,
        typer.Option(help="The public https address of `steward serve`, e.g. https://cs.acme.io"),
    ],
) -> None:
    """Print the Slack app manifest for this host (paste it into api.slack.com/apps)."""
    from bot.adapters.slack.manifest import manifest_yaml

    if not url.startswith("https://"):
        err.print("Slack only calls https:// addresses: give --url https://your-host")
        raise typer.Exit(2)
    sys.stdout.write(manifest_yaml(url))


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
    privacy_url: Annotated[
        str, typer.Option(help="Your privacy statement (https), shown to people adding the app")
    ],
    terms_url: Annotated[
        str, typer.Option(help="Your terms of use (https), shown to people adding the app")
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
        for address in (url, privacy_url, terms_url):
            host_of(address)
    except ValueError as exc:
        message = str(exc) if "https" in str(exc) else "--app-id must be a GUID (the app id)"
        err.print(message)
        raise typer.Exit(2) from None
    output.write_bytes(package(app_id, url, privacy_url, terms_url))
    out.print(
        f"Wrote {output}: in Teams, Apps > Manage your apps > Upload an app > "
        "Upload a custom app, and pick this file."
    )


def encryption_key() -> None:
    """Print a new Fernet key for STEWARD_ENCRYPTION_KEY (put it first to rotate)."""
    from core.sealing import new_key

    sys.stdout.write(new_key() + "\n")


def slack_workspaces(
    rekey: Annotated[
        bool,
        typer.Option(help="Encrypt every stored token again with the first (newest) key"),
    ] = False,
) -> None:
    """List the Slack workspaces installed through "Add to Slack" (OAuth)."""
    from bot.adapters.slack.app import installation_store
    from bot.cli.common import ensure_schema, settings
    from core.sealing import SealError
    from services.container import build_services

    services = build_services(settings())
    ensure_schema(services)
    if not services.settings.slack_oauth:
        err.print("Slack OAuth is off: set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")
        raise typer.Exit(2)
    try:
        installs = installation_store(services)
        if rekey:
            out.print(f"{installs.rekey()} workspace token(s) encrypted with the newest key")
    except SealError as exc:
        err.print(str(exc))
        raise typer.Exit(1) from None
    for row in installs.workspaces():
        out.print(
            f"{row['team_id']}  {row['team_name'] or ''}  installed "
            f"{row['installed_at']:%Y-%m-%d %H:%M} UTC by {row['installer_user_id'] or '?'}"
        )


def register(app: typer.Typer) -> None:
    """Add the manifest commands to the CLI."""
    app.command("slack-manifest")(slack_manifest)
    app.command("encryption-key")(encryption_key)
    app.command("slack-workspaces")(slack_workspaces)
    app.command("teams-manifest")(teams_manifest)
