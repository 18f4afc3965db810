"""The Teams app package: manifest.json and its two icons, zipped for side-loading.

``steward teams-manifest --app-id ID --url https://host`` writes the package; the
checked-in ``teams/manifest.json`` is the same manifest with placeholders, kept equal
to this code by a test.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MANIFEST_VERSION = "1.17"
SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/"
    f"v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
APP_ID_PLACEHOLDER = "${{MICROSOFT_APP_ID}}"
HOST_PLACEHOLDER = "${{STEWARD_HOST}}"
PRIVACY_PLACEHOLDER = "${{PRIVACY_URL}}"
TERMS_PLACEHOLDER = "${{TERMS_URL}}"
ACCENT = "#1F6FEB"
ICON_DIR = Path(__file__).resolve().parent / "icons"  # packaged: the image has no checkout
COMMANDS = (
    ("health", "health <account>: score, reasons, risks, usage chart"),
    ("value", "value <account> [30d|90d|year]: value realized"),
    ("forecast", "forecast <account>: commit burndown and month-end spend"),
    ("risks", "The accounts most likely to churn, and why"),
    ("expansions", "The accounts most likely to expand, and why"),
    ("book", "book [@person]: the accounts a CSM or AE owns"),
    ("subscribe", "subscribe digest|manager|alerts [at HH:MM]: post here"),
    ("subscriptions", "This conversation's subscriptions"),
    ("ask", "ask <question>: answered from Steward's figures (LLM)"),
    ("help", "Everything Steward answers"),
)


def manifest(
    app_id: str = APP_ID_PLACEHOLDER,
    host: str = HOST_PLACEHOLDER,
    privacy_url: str = PRIVACY_PLACEHOLDER,
    terms_url: str = TERMS_PLACEHOLDER,
) -> dict[str, Any]:
    """The manifest for a bot with this Microsoft app id, served at ``https://host``.

    Teams shows the privacy and terms pages to people who add the app: they are the
    company's own pages, not something Steward serves.
    """
    site = f"https://{host}"
    commands = [{"title": title, "description": text} for title, text in COMMANDS]
    return {
        "$schema": SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": "1.0.0",
        "id": app_id,
        "developer": {
            "name": "Steward",
            "websiteUrl": site,
            "privacyUrl": privacy_url,
            "termsOfUseUrl": terms_url,
        },
        "name": {"short": "Steward", "full": "Steward: customer success signals"},
        "description": {
            "short": "Account health, value, forecasts, digests and alerts for CSMs.",
            "full": (
                "Steward turns your customers' usage into signals a customer-success team "
                "acts on: health with its reasons, value realized, commit burndown and "
                "bill-shock risk, expansion signals, morning digests and alerts with "
                "buttons. Type health acme in a personal chat, or mention Steward in a "
                "channel; type subscribe digest in a channel for a morning digest."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team", "groupChat"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {"scopes": ["personal", "team", "groupChat"], "commands": commands}
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [host],
    }


def manifest_json(
    app_id: str = APP_ID_PLACEHOLDER,
    host: str = HOST_PLACEHOLDER,
    privacy_url: str = PRIVACY_PLACEHOLDER,
    terms_url: str = TERMS_PLACEHOLDER,
) -> str:
    """The manifest as the JSON text of ``manifest.json``."""
    body = manifest(app_id, host, privacy_url, terms_url)
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def host_of(url: str) -> str:
    """``https://steward.example.com/`` -> ``steward.example.com``; Teams needs https."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("Teams only talks to https:// addresses: give --url https://your-host")
    return parts.netloc


def package(
    app_id: str, url: str, privacy_url: str, terms_url: str, icons: Path = ICON_DIR
) -> bytes:
    """The zip to upload in Teams (Apps > Manage your apps > Upload an app)."""
    for page in (privacy_url, terms_url):
        host_of(page)  # https only, as Teams requires
    text = manifest_json(app_id, host_of(url), privacy_url, terms_url)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", text)
        for name in ("color.png", "outline.png"):
            archive.write(icons / name, name)
    return buffer.getvalue()
