"""The Slack app manifest creates an app with every command, scope and URL Steward uses."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.adapters.slack.manifest import COMMANDS, METHOD_SCOPES, manifest_yaml
from tests.support.cli import steward
from tests.support.paths import ROOT
from tests.support.server import LiveServer


def test_the_checked_in_manifest_is_the_generated_one() -> None:
    assert (ROOT / "slack" / "manifest.yml").read_text() == manifest_yaml()


def test_a_manifest_for_a_host_points_every_url_at_slack_events(tmp_path: Path) -> None:
    result = steward("slack-manifest", "--url", "https://cs.acme.io/", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    app = yaml.safe_load(result.stdout)
    commands = app["features"]["slash_commands"]
    assert [c["command"] for c in commands] == list(COMMANDS)
    urls = [c["url"] for c in commands]
    urls += [app["settings"]["event_subscriptions"]["request_url"]]
    urls += [app["settings"]["interactivity"]["request_url"]]
    assert set(urls) == {"https://cs.acme.io/slack/events"}
    assert all(c["should_escape"] for c in commands)  # mentions arrive as <@U123|name>
    assert all(len(c["description"]) <= 100 for c in commands)  # Slack's limit
    scopes = set(app["oauth_config"]["scopes"]["bot"])
    for method, needed in METHOD_SCOPES.items():
        assert set(needed) <= scopes, method
    assert "commands" in scopes


def test_an_http_address_is_refused(tmp_path: Path) -> None:
    result = steward("slack-manifest", "--url", "http://cs.acme.io", cwd=tmp_path)
    assert result.returncode == 2
    assert "https://" in result.stderr


def test_slack_events_say_when_slack_is_not_configured(live: LiveServer) -> None:
    import httpx

    response = httpx.post(f"{live.url}/slack/events", content=b"command=%2Fhealth")
    assert response.status_code == 503
    assert "SLACK_BOT_TOKEN" in response.json()["message"]
