"""Zendesk webhooks over real HTTP on loopback: signed as Zendesk signs, stored once, or
refused with the path that could not be mapped."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import tables
from tests.sources.conftest import ZENDESK_SECRET
from tests.support.sender import Sender
from tests.support.zendesk_events import post, ticket_event, trigger_body


def tickets(db: Engine) -> list[Any]:
    t = tables.support_tickets
    with db.connect() as conn:
        return list(conn.execute(sa.select(t).order_by(t.c.id)))


def test_a_ticket_event_becomes_a_support_ticket_of_its_organization(
    sender: Sender, db: Engine
) -> None:
    response = post(sender.http, ticket_event(), ZENDESK_SECRET)

    assert response.status_code == 200, response.text
    [row] = tickets(db)
    assert (row.id, row.account_id, row.status, row.priority) == (
        "zendesk-35436",
        "360001234567",
        "open",
        "high",
    )
    assert row.subject == "Exports time out"
    assert row.solved_at is None


def test_a_trigger_body_maps_organization_satisfaction_and_solved_time(
    sender: Sender, db: Engine
) -> None:
    response = post(sender.http, trigger_body(), ZENDESK_SECRET)

    assert response.status_code == 200, response.text
    [row] = tickets(db)
    assert (row.account_id, row.status, row.priority, row.csat) == (
        "initech-1",
        "solved",
        "urgent",
        5,
    )
    assert row.solved_at is not None


def test_organizations_map_to_steward_accounts_through_the_toml_section(
    sender: Sender, db: Engine, services: Any
) -> None:
    mapping = services.settings.sources.zendesk
    mapping.organizations["360001234567"] = "acme"
    try:
        assert post(sender.http, ticket_event(), ZENDESK_SECRET).status_code == 200
    finally:
        mapping.organizations.clear()
    assert [r.account_id for r in tickets(db)] == ["acme"]


def test_redelivered_and_updated_tickets_are_stored_once(sender: Sender, db: Engine) -> None:
    for _ in range(3):  # Zendesk retries with a fresh timestamp and signature
        assert post(sender.http, ticket_event(), ZENDESK_SECRET).status_code == 200
    solved = ticket_event("status_changed", status="Solved")
    assert post(sender.http, solved, ZENDESK_SECRET).status_code == 200

    [row] = tickets(db)
    assert row.status == "solved"
    assert row.solved_at is not None


def test_forged_stale_and_unsigned_deliveries_are_refused(sender: Sender, db: Engine) -> None:
    payload = ticket_event()
    old = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")

    forged = post(sender.http, payload, "bm90IHRoZSBzZWNyZXQ=")
    stale = post(sender.http, payload, ZENDESK_SECRET, stamp=old)
    unsigned = sender.unauthenticated("POST", "/v1/sources/zendesk", json=payload)

    assert [r.status_code for r in (forged, stale, unsigned)] == [401] * 3
    assert "5 minutes" in stale.json()["message"]
    assert tickets(db) == []


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (ticket_event(organization_id=None), "detail.organization_id"),
        (ticket_event(organization_id="0"), "detail.organization_id"),
        (ticket_event(created_at=None), "detail.created_at"),
        (ticket_event(id=None), "detail.id"),
        (trigger_body(organization=""), "ticket.organization"),
        (trigger_body(created_at="yesterday"), "ticket.created_at"),
    ],
)
def test_an_unmappable_ticket_is_refused_with_the_path(
    sender: Sender, db: Engine, payload: dict[str, Any], path: str
) -> None:
    response = post(sender.http, payload, ZENDESK_SECRET)

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [path]
    assert tickets(db) == []


def test_events_that_are_not_about_tickets_are_acknowledged_and_ignored(
    sender: Sender, db: Engine
) -> None:
    user = {**ticket_event(), "type": "zen:event-type:user.active_changed"}
    response = post(sender.http, user, ZENDESK_SECRET)
    assert response.status_code == 200
    assert response.json()["ignored"] == 1
    assert tickets(db) == []


def test_the_readme_trigger_body_works_as_written(sender: Sender, db: Engine) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Zendesk", 1)[1].split("\n## ", 1)[0]
    template = section.split("```json\n", 1)[1].split("```", 1)[0]
    filled = {  # what Zendesk puts in for each placeholder
        "ticket.id": "5150",
        "ticket.organization.external_id": "initech-1",
        "ticket.status": "Pending",
        "ticket.priority": "Normal",
        "ticket.title": "SSO login loops",
        "ticket.created_at_with_timestamp": "2026-11-30T09:12:44Z",
        "ticket.updated_at_with_timestamp": "2026-12-01T10:00:00Z",
        "satisfaction.current_rating": "Offered",
    }
    body = re.sub(r"\{\{([^}]+)\}\}", lambda m: filled[m.group(1)], template)

    response = post(sender.http, json.loads(body), ZENDESK_SECRET)

    assert response.status_code == 200, response.text
    [row] = tickets(db)
    assert (row.id, row.account_id, row.status, row.csat) == (
        "zendesk-5150",
        "initech-1",
        "pending",
        None,
    )
