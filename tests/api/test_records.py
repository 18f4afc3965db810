"""Accounts, contracts and tickets: upserts by id, validation, and placeholders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import tables
from tests.support.events import event
from tests.support.sender import Sender
from tests.support.server import counts

ACME = {
    "id": "acme",
    "name": "Acme Corp",
    "domain": "acme.example",
    "segment": "enterprise",
    "arr": 120000,
    "csm": "U024BE7LH",
    "ae": "ae@example.com",
    "timezone": "Europe/Paris",
    "customer_since": "2025-03-01",
    "renewal_date": "2027-03-01",
}
CONTRACT = {
    "id": "ctr_1",
    "account": "acme",
    "start_date": "2026-01-01",
    "end_date": "2026-12-31",
    "committed_amount": 90000,
    "currency": "EUR",
    "unit_prices": {"tokens": 0.002, "resolutions": 0.5},
    "monthly_budget": 8000,
}


def ticket(**fields: Any) -> dict[str, Any]:
    opened = datetime.now(UTC) - timedelta(days=2)
    base = {
        "id": "tkt_1",
        "account": "acme",
        "status": "open",
        "priority": "high",
        "subject": "Exports time out",
        "opened_at": opened.isoformat(),
    }
    base.update(fields)
    return base


def test_placeholder_account_is_completed_by_the_crm(sender: Sender) -> None:
    sender.signed("/v1/events", event(1))
    assert sender.get("/v1/accounts/acme").json()["is_placeholder"] is True

    response = sender.signed("/v1/accounts", {"accounts": [ACME]})

    assert response.json() == {"received": 1, "accepted": 1, "duplicates": 0}
    account = sender.get("/v1/accounts/acme").json()
    assert account["name"] == "Acme Corp"
    assert account["is_placeholder"] is False
    assert account["arr"] == 120000
    assert account["renewal_date"] == "2027-03-01"


def test_fields_left_out_keep_their_value(sender: Sender) -> None:
    sender.signed("/v1/accounts", ACME)

    sender.signed("/v1/accounts", {"id": "acme", "name": "Acme", "segment": None})

    account = sender.get("/v1/accounts/acme").json()
    assert account["name"] == "Acme"
    assert account["segment"] is None  # given as null: cleared
    assert account["csm"] == "U024BE7LH"  # not given: kept
    assert account["timezone"] == "Europe/Paris"


def test_last_version_in_a_batch_wins(sender: Sender) -> None:
    response = sender.signed("/v1/accounts", {"accounts": [ACME, {**ACME, "arr": 150000}]})
    assert response.json() == {"received": 2, "accepted": 1, "duplicates": 1}
    assert sender.get("/v1/accounts/acme").json()["arr"] == 150000


def test_contract_upsert_creates_placeholder_and_replaces_prices(
    sender: Sender, db: Engine
) -> None:
    assert sender.signed("/v1/contracts", CONTRACT).status_code == 200
    sender.signed("/v1/contracts", {**CONTRACT, "unit_prices": {"tokens": 0.003}})

    with db.connect() as conn:
        row = conn.execute(sa.select(tables.contracts)).mappings().one()
    assert row["unit_prices"] == {"tokens": 0.003}
    assert row["currency"] == "EUR"
    assert row["kind"] == "commit"
    assert counts(db)["accounts"] == 1
    assert sender.get("/v1/accounts/acme").json()["is_placeholder"] is True


def test_ticket_upsert_updates_status(sender: Sender, db: Engine) -> None:
    sender.signed("/v1/tickets", {"tickets": [ticket()]})
    solved = datetime.now(UTC) - timedelta(hours=1)
    sender.signed("/v1/tickets", ticket(status="solved", solved_at=solved.isoformat(), csat=4))

    with db.connect() as conn:
        row = conn.execute(sa.select(tables.support_tickets)).mappings().one()
    assert (row["status"], row["csat"], row["priority"]) == ("solved", 4, "high")
    assert row["solved_at"] == solved


INVALID = [
    ("/v1/accounts", {**ACME, "timezone": "Mars/Olympus"}, "timezone", "IANA"),
    ("/v1/accounts", {**ACME, "arr": -10}, "arr", "greater than or equal"),
    ("/v1/accounts", {"id": "x"}, "name", "Field required"),
    ("/v1/accounts", {**ACME, "renewal_date": "next year"}, "renewal_date", "valid date"),
    ("/v1/contracts", {**CONTRACT, "end_date": "2025-12-31"}, None, "end_date must be after"),
    ("/v1/contracts", {**CONTRACT, "currency": "eur"}, "currency", "pattern"),
    (
        "/v1/contracts",
        {**CONTRACT, "unit_prices": {"tokens": -1}},
        "unit_prices.tokens",
        "greater than or equal",
    ),
    ("/v1/contracts", {**CONTRACT, "kind": "loan"}, "kind", "'commit' or 'prepaid_credits'"),
    ("/v1/tickets", ticket(status="wontfix"), "status", "Input should be"),
    ("/v1/tickets", ticket(csat=9), "csat", "less than or equal to 5"),
    ("/v1/tickets", ticket(solved_at="2020-01-01T00:00:00Z"), None, "solved_at must not be"),
]


def test_invalid_records_are_refused_with_their_field(sender: Sender, db: Engine) -> None:
    for path, item, field, reason in INVALID:
        response = sender.signed(path, item)
        assert response.status_code == 422, (path, item)
        error = response.json()["errors"][0]
        assert error["field"] == field, (item, error)
        assert reason in error["reason"], error
    stored = counts(db)
    assert (stored["accounts"], stored["deliveries"]) == (0, 0)
