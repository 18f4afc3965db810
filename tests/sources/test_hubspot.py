"""HubSpot webhooks over real HTTP on loopback: signed as HubSpot signs (v3), each company
event setting its one account field, stored once, or refused with the path."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.container import Services
from storage import tables
from tests.sources.conftest import HUBSPOT_SECRET
from tests.support.hubspot_events import company_event, post
from tests.support.sender import Sender


def account(db: Engine, account_id: str) -> Any:
    a = tables.accounts
    with db.connect() as conn:
        return conn.execute(sa.select(a).where(a.c.id == account_id)).one_or_none()


def new_company(n: int = 0) -> list[dict[str, Any]]:
    return [
        company_event("creation", n=n + 1),
        company_event("propertyChange", n=n + 2, name="name", value="Initech"),
        company_event("propertyChange", n=n + 3, name="hubspot_owner_id", value="31337"),
        company_event("propertyChange", n=n + 4, name="arr", value="250000"),
        company_event("propertyChange", n=n + 5, name="renewal_date", value="1798761600000"),
    ]


def test_a_company_and_its_property_changes_become_an_account(
    sender: Sender, db: Engine, services: Services
) -> None:
    services.settings.sources.hubspot.owners["31337"] = "casey@example.com"
    try:
        response = post(sender.http, new_company(), HUBSPOT_SECRET)
    finally:
        services.settings.sources.hubspot.owners.clear()

    assert response.status_code == 200, response.text
    row = account(db, "123456789")
    assert (row.name, row.csm, row.arr, row.is_placeholder) == (
        "Initech",
        "casey@example.com",
        250000.0,
        False,
    )
    assert row.renewal_date.isoformat() == "2027-01-01"  # midnight UTC in milliseconds


def test_one_property_change_leaves_the_other_fields_as_they_are(
    sender: Sender, db: Engine
) -> None:
    assert post(sender.http, new_company(), HUBSPOT_SECRET).status_code == 200
    raise_arr = [company_event("propertyChange", n=9, name="arr", value="300000")]
    for _ in range(2):  # HubSpot retries a delivery that timed out
        assert post(sender.http, raise_arr, HUBSPOT_SECRET).status_code == 200

    row = account(db, "123456789")
    assert (row.name, row.arr, row.csm) == ("Initech", 300000.0, "31337")


def test_companies_map_to_steward_accounts(sender: Sender, db: Engine, services: Services) -> None:
    services.settings.sources.hubspot.companies["123456789"] = "initech-1"
    try:
        assert post(sender.http, new_company(), HUBSPOT_SECRET).status_code == 200
    finally:
        services.settings.sources.hubspot.companies.clear()
    assert account(db, "initech-1").name == "Initech"
    assert account(db, "123456789") is None


def test_forged_stale_unsigned_and_misaddressed_deliveries_are_refused(
    sender: Sender, db: Engine
) -> None:
    events = new_company()
    forged = post(sender.http, events, "not-the-client-secret")
    stale = post(sender.http, events, HUBSPOT_SECRET, stamp_ms=int((time.time() - 600) * 1000))
    elsewhere = post(
        sender.http, events, HUBSPOT_SECRET, url="https://evil.example/v1/sources/hubspot"
    )
    unsigned = sender.unauthenticated("POST", "/v1/sources/hubspot", json=events)

    assert [r.status_code for r in (forged, stale, elsewhere, unsigned)] == [401] * 4
    assert "5 minutes" in stale.json()["message"]
    assert account(db, "123456789") is None


def test_behind_a_proxy_the_public_url_is_what_hubspot_signed(
    sender: Sender, db: Engine, services: Services
) -> None:
    public = "https://steward.example.com"
    services.settings.public_url = public
    try:
        response = post(
            sender.http, new_company(), HUBSPOT_SECRET, url=f"{public}/v1/sources/hubspot"
        )
    finally:
        services.settings.public_url = None
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("events", "path"),
    [
        ([company_event("propertyChange", name="arr", value="lots")], "0.propertyValue"),
        ([company_event("propertyChange", name="name", value="")], "0.propertyValue"),
        ([company_event("propertyChange", name="renewal_date", value="soon")], "0.propertyValue"),
        ([{**company_event("creation"), "objectId": None}], "0.objectId"),
    ],
)
def test_an_unmappable_event_is_refused_with_the_path(
    sender: Sender, db: Engine, events: list[dict[str, Any]], path: str
) -> None:
    response = post(sender.http, events, HUBSPOT_SECRET)

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [path]
    assert account(db, "123456789") is None


def test_other_events_are_acknowledged_and_ignored(sender: Sender, db: Engine) -> None:
    contact = {**company_event("creation"), "subscriptionType": "contact.creation"}
    unmapped = company_event("propertyChange", name="industry", value="SOFTWARE")
    response = post(sender.http, [contact, unmapped], HUBSPOT_SECRET)
    assert response.status_code == 200
    assert response.json()["ignored"] == 2
    assert account(db, "123456789") is None
