"""Which service URLs get the connector token, and how ids become path segments."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from bot.adapters.teams.service_urls import (
    ServiceHosts,
    connector_url,
    is_loopback_host,
    is_loopback_url,
    segment,
)
from core.settings import BOT_FRAMEWORK_HOSTS

DEFAULT = ServiceHosts.of(BOT_FRAMEWORK_HOSTS)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://smba.trafficmanager.net/amer/", True),
        ("https://smba.trafficmanager.net/teams/", True),
        ("https://europe.webchat.botframework.com/", True),
        ("https://smba.infra.gcc.teams.microsoft.com/teams", True),
        ("https://SMBA.TrafficManager.net/emea/", True),
        ("http://smba.trafficmanager.net/amer/", False),  # the token never goes in clear
        ("https://botframework.com/", False),  # *.domain names subdomains only
        ("https://evilbotframework.com/", False),
        ("https://botframework.com.attacker.example/", False),
        ("https://smba.trafficmanager.net.attacker.example/", False),
        ("https://smba.trafficmanager.net@attacker.example/", False),
        ("https://user@smba.trafficmanager.net/amer/", False),
        ("https://attacker.example/teams/", False),
        ("http://127.0.0.1:3978/", False),  # loopback is not a Bot Framework host
        ("ftp://smba.trafficmanager.net/", False),
        ("not a url", False),
        ("https://[::1", False),
    ],
)
def test_only_bot_framework_hosts_are_trusted_by_default(url: str, allowed: bool) -> None:
    assert DEFAULT.allows(url) is allowed


def test_a_host_can_be_pinned_to_a_port_and_loopback_may_use_http() -> None:
    hosts = ServiceHosts.of(["127.0.0.1:4000", " Example.TEST "])
    assert hosts.allows("http://127.0.0.1:4000/teams/")
    assert not hosts.allows("http://127.0.0.1:4001/teams/")
    assert not hosts.allows("http://example.test/")  # not loopback: https only
    assert hosts.allows("https://example.test:8443/")
    assert not ServiceHosts.of([]).allows("https://smba.trafficmanager.net/amer/")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 (every interface)
        ("::", False),
        ("192.0.2.2", False),
        ("localhost.attacker.example", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_hosts(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_loopback_urls() -> None:
    assert is_loopback_url("http://localhost:3978/")
    assert is_loopback_url("http://127.0.0.1:3978/api")
    assert not is_loopback_url("http://127.0.0.1@attacker.example/")
    assert not is_loopback_url("file://127.0.0.1/etc/passwd")


@pytest.mark.parametrize(
    "value", ["x/../../../admin?q=", "..", ".", "a:1#frag", "19:a%2Fb@thread.tacv2", "a b;c"]
)
def test_each_id_stays_one_segment_and_decodes_to_itself(value: str) -> None:
    encoded = segment(value)
    assert "/" not in encoded
    assert encoded not in (".", "..")
    assert unquote(encoded) == value


def test_a_connector_url_keeps_the_service_path_and_drops_its_query() -> None:
    url = connector_url("https://smba.trafficmanager.net/amer/?x=1", "a:1/..", "activities")
    parts = urlsplit(url)
    assert parts.netloc == "smba.trafficmanager.net"
    assert parts.path == "/amer/v3/conversations/a%3A1%2F../activities"
    assert parts.query == ""
