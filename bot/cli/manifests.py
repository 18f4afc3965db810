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


def register(app: typer.Typer) -> None:
    """Add the manifest commands to the CLI."""
    app.command("slack-manifest")(slack_manifest)
    app.command("teams-manifest")(teams_manifest)
