"""The Slack app manifest: every command, scope and URL Steward needs, for one host."""

from __future__ import annotations

from typing import Any

import yaml

PLACEHOLDER_URL = "https://steward.example.com"
EVENTS_PATH = "/slack/events"

COMMANDS: dict[str, tuple[str, str]] = {
    # command: (description, usage hint)
    "/health": ("An account's health score, why it moved, risks and usage", "acme"),
    "/value": ("Value an account realized, in business terms", "acme [30d|90d|quarter|year]"),
    "/forecast": ("Commit burndown and month-end spend for an account", "acme"),
    "/steward": (
        "Your book, risks, expansions, tiers, digest preview, questions and help",
        "help | book [@user] | risks | expansions | tier acme | digest | subscribe ... | ask ...",
    ),
}

# Each Web API method Steward calls, and the bot scope it needs.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.members": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.open": ("im:write",),
    "users.info": ("users:read", "users:read.email"),
    "usergroups.users.list": ("usergroups:read",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "chat.postMessage": ("chat:write",),
    "conversations.history": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "users.lookupByEmail": ("users:read.email",),
    "views.publish": (),
}
EVENT_SCOPES = {"app_mention": "app_mentions:read"}
# Events that need no scope: a workspace uninstalling Steward, or revoking its tokens.
UNSCOPED_EVENTS = ("app_home_opened", "app_uninstalled", "tokens_revoked")
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"


def bot_scopes() -> list[str]:
    """Every bot scope Steward asks for (the manifest's, and "Add to Slack"'s)."""
    scopes = {"commands", *EVENT_SCOPES.values()}
    for needed in METHOD_SCOPES.values():
        scopes.update(needed)
    return sorted(scopes)


def manifest(base_url: str = PLACEHOLDER_URL) -> dict[str, Any]:
    """The manifest for a Steward served at ``base_url`` (https, no trailing slash)."""
    url = base_url.rstrip("/") + EVENTS_PATH
    return {
        "display_information": {
            "name": "Steward",
            "description": "Customer-success signals for consumption-priced accounts",
            "background_color": "#1d3b53",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": "Steward", "always_online": True},
            "slash_commands": [
                {
                    "command": command,
                    "url": url,
                    "description": description,
                    "usage_hint": hint,
                    "should_escape": True,
                }
                for command, (description, hint) in COMMANDS.items()
            ],
        },
        "oauth_config": {
            "redirect_urls": [base_url.rstrip("/") + OAUTH_REDIRECT_PATH],
            "scopes": {"bot": bot_scopes()},
        },
        "settings": {
            "event_subscriptions": {
                "request_url": url,
                "bot_events": sorted([*EVENT_SCOPES, *UNSCOPED_EVENTS]),
            },
            "interactivity": {"is_enabled": True, "request_url": url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(base_url: str = PLACEHOLDER_URL) -> str:
    """The manifest as YAML, ready to paste into api.slack.com/apps > Create New App."""
    header = (
        "# Steward's Slack app. Create it at https://api.slack.com/apps > Create New App >\n"
        "# From a manifest. Regenerate for your host: steward slack-manifest --url https://...\n"
    )
    body: str = yaml.safe_dump(manifest(base_url), sort_keys=False, allow_unicode=True)
    return header + body
