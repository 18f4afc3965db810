"""The vendor sources' fixtures: settings with each vendor's secret, a server, a sender."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.web import create_app
from core.settings import IngestLimits, Settings, load_settings
from services.container import Services, build_services
from tests.support.sender import Sender
from tests.support.server import ROTATED_SECRET, TEST_SECRET, TEST_TOKEN, LiveServer

SEGMENT_SECRET = "segment-shared-secret-4f1c9a"
STRIPE_SECRET = "whsec_stripe0test0endpoint0secret0a1b2c3"
ZENDESK_SECRET = "dGhpcyBpcyBhIHplbmRlc2sgc2lnbmluZyBzZWNyZXQ="  # as Zendesk shows one
HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"  # an app's client secret (a UUID)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(
        database_url=database_url,
        webhook_secrets=[TEST_SECRET, ROTATED_SECRET],
        api_tokens=[TEST_TOKEN],
        segment_secret=SEGMENT_SECRET,
        stripe_webhook_secret=STRIPE_SECRET,
        zendesk_secret=ZENDESK_SECRET,
        hubspot_client_secret=HUBSPOT_SECRET,
        ingest=IngestLimits(),
    )


@pytest.fixture
def services(settings: Settings, db: object) -> Services:
    return build_services(settings, engine=db)  # type: ignore[arg-type]


@pytest.fixture
def live(services: Services) -> Iterator[LiveServer]:
    with LiveServer(create_app(services)) as server:
        yield server


@pytest.fixture
def sender(live: LiveServer) -> Iterator[Sender]:
    with Sender(live.url, secret=TEST_SECRET, token=TEST_TOKEN) as client:
        yield client
