"""Stripe webhooks over real HTTP on loopback: signed as Stripe signs, stored once, or refused."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import tables
from tests.sources.conftest import STRIPE_SECRET
from tests.support.events import NOW
from tests.support.sender import Sender
from tests.support.server import counts
from tests.support.stripe_events import customer, event, invoice, post, subscription

SUB = "sub_1MowQVLkdIwHu7ixeRlqHVzs"


def contract(db: Engine, contract_id: str = SUB) -> Any:
    with db.connect() as conn:
        return conn.execute(
            sa.select(tables.contracts).where(tables.contracts.c.id == contract_id)
        ).one_or_none()


def stored(db: Engine) -> dict[str, Any]:
    with db.connect() as conn:
        n = conn.scalar(sa.select(sa.func.count()).select_from(tables.contracts))
    return {**counts(db), "contracts": n}


def test_a_customer_becomes_an_account(sender: Sender, db: Engine) -> None:
    response = post(sender.http, event("customer.created", customer()), STRIPE_SECRET)

    assert response.status_code == 200, response.text
    account = sender.get("/v1/accounts/cus_NffrFeUfNV2Hib").json()
    assert (account["name"], account["is_placeholder"]) == ("Jenny Rosen", False)


def test_metadata_names_the_steward_account(sender: Sender, db: Engine) -> None:
    named = customer(name="Initech", metadata={"steward_account": "initech-1"})
    sub = subscription(metadata={"steward_account": "initech-1"})

    assert post(sender.http, event("customer.updated", named), STRIPE_SECRET).status_code == 200
    assert post(sender.http, event("customer.subscription.created", sub, 2), STRIPE_SECRET).json()

    assert sender.get("/v1/accounts/initech-1").json()["name"] == "Initech"
    assert sender.get("/v1/accounts/cus_NffrFeUfNV2Hib").status_code == 404
    assert contract(db).account_id == "initech-1"


def test_a_subscription_becomes_a_contract_and_its_deletion_ends_it(
    sender: Sender, db: Engine
) -> None:
    created = post(
        sender.http, event("customer.subscription.created", subscription()), STRIPE_SECRET
    )
    assert created.status_code == 200, created.text
    row = contract(db)
    assert (row.account_id, row.committed_amount, row.currency) == (
        "cus_NffrFeUfNV2Hib",
        12000.0,
        "USD",
    )
    assert row.start_date == (NOW - timedelta(days=10)).date()
    assert row.end_date == (NOW + timedelta(days=355)).date()

    ended = int((NOW - timedelta(days=1)).timestamp())
    gone = subscription(status="canceled", ended_at=ended, canceled_at=ended)
    deleted = post(sender.http, event("customer.subscription.deleted", gone, 3), STRIPE_SECRET)

    assert deleted.status_code == 200, deleted.text
    assert contract(db).end_date == (NOW - timedelta(days=1)).date()


def test_the_billing_period_is_read_from_the_items_in_newer_api_versions(
    sender: Sender, db: Engine
) -> None:
    sub = subscription()
    item = sub["items"]["data"][0]
    item["current_period_start"] = sub.pop("current_period_start")
    item["current_period_end"] = sub.pop("current_period_end")
    payload = event("customer.subscription.updated", sub) | {"api_version": "2025-04-30.basil"}

    assert post(sender.http, payload, STRIPE_SECRET).status_code == 200
    assert contract(db).end_date == (NOW + timedelta(days=355)).date()


def test_redelivered_events_change_nothing(sender: Sender, db: Engine) -> None:
    payloads = [
        event("customer.created", customer()),
        event("customer.subscription.created", subscription(), 2),
    ]
    for payload in payloads:
        assert post(sender.http, payload, STRIPE_SECRET).status_code == 200
    before = (stored(db), contract(db))

    for payload in payloads * 3:  # Stripe retries with a fresh timestamp and signature
        assert post(sender.http, payload, STRIPE_SECRET).status_code == 200

    after = (stored(db), contract(db))
    assert after[0] == before[0]
    assert {**after[1]._mapping, "updated_at": None} == {**before[1]._mapping, "updated_at": None}


def test_forged_stale_and_unsigned_events_are_refused(sender: Sender, db: Engine) -> None:
    payload = event("customer.subscription.created", subscription())
    before = stored(db)

    forged = post(sender.http, payload, "whsec_not_the_endpoint_secret")
    stale = post(sender.http, payload, STRIPE_SECRET, timestamp=int(time.time()) - 600)
    unsigned = sender.unauthenticated("POST", "/v1/sources/stripe", json=payload)
    bearer = sender.bearer("/v1/sources/stripe", payload)  # Stripe always signs: no bearer

    assert [r.status_code for r in (forged, stale, unsigned, bearer)] == [401] * 4
    assert "tolerance" in stale.json()["message"]
    assert stored(db) == before


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"customer": None}, "data.object.customer"),
        ({"current_period_end": None}, "data.object.current_period_end"),
        ({"currency": None}, "data.object.currency"),
        ({"currency": "dollars"}, "data.object.currency"),
    ],
)
def test_an_unmappable_subscription_is_refused_with_the_path(
    sender: Sender, db: Engine, change: dict[str, Any], path: str
) -> None:
    sub = {k: v for k, v in {**subscription(), **change}.items() if v is not None}
    before = stored(db)

    response = post(sender.http, event("customer.subscription.updated", sub), STRIPE_SECRET)

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [path]
    assert stored(db) == before


def test_other_events_are_acknowledged_and_ignored(sender: Sender, db: Engine) -> None:
    before = stored(db)
    response = post(sender.http, event("charge.succeeded", {"id": "ch_1"}), STRIPE_SECRET)
    assert response.status_code == 200
    assert response.json()["ignored"] == 1
    assert stored(db) == before


def test_a_cancelled_last_subscription_marks_the_account_churned(
    sender: Sender, db: Engine
) -> None:
    other = subscription(id="sub_other", days_left=30)
    for n, payload in enumerate([subscription(), other]):
        post(sender.http, event("customer.subscription.created", payload, n), STRIPE_SECRET)
    ended = int((NOW - timedelta(days=2)).timestamp())
    first_gone = subscription(status="canceled", ended_at=ended)
    other_gone = subscription(id="sub_other", status="canceled", ended_at=ended)

    still_running = post(
        sender.http, event("customer.subscription.deleted", first_gone, 3), STRIPE_SECRET
    )
    churned_after_both = post(
        sender.http, event("customer.subscription.deleted", other_gone, 4), STRIPE_SECRET
    )

    assert still_running.json()["churned"] == []  # sub_other runs on
    assert churned_after_both.json()["churned"] == ["cus_NffrFeUfNV2Hib"]
    account = sender.get("/v1/accounts/cus_NffrFeUfNV2Hib").json()
    assert account["churned_date"] == (NOW - timedelta(days=2)).date().isoformat()


def spend(db: Engine) -> list[Any]:
    e = tables.usage_events
    with db.connect() as conn:
        return list(
            conn.execute(
                sa.select(e.c.id, e.c.account_id, e.c.quantity).where(e.c.metric == "spend")
            )
        )


def test_an_invoice_is_spend_counted_once_whether_finalized_paid_or_redelivered(
    sender: Sender, db: Engine
) -> None:
    finalized = event("invoice.finalized", invoice(), 1)
    paid = event("invoice.paid", invoice(paid=True), 2)
    for payload in (finalized, paid, paid, finalized):  # both events, and Stripe's retries
        response = post(sender.http, payload, STRIPE_SECRET)
        assert response.status_code == 200, response.text

    assert spend(db) == [("stripe-in_1MtHbELkdIwHu7ixl4OzzPMv", "cus_NffrFeUfNV2Hib", 1299.0)]
    usage = sender.get("/v1/accounts/cus_NffrFeUfNV2Hib/usage", metric="spend").json()
    assert [d["quantity"] for d in usage["metrics"]["spend"]] == [1299.0]


def test_an_invoice_in_a_zero_decimal_currency_is_counted_in_whole_units(
    sender: Sender, db: Engine
) -> None:
    yen = invoice(paid=True, id="in_yen", currency="jpy", amount_due=150000)
    yen["amount_paid"] = 150000
    assert post(sender.http, event("invoice.paid", yen), STRIPE_SECRET).status_code == 200
    assert [q for _, _, q in spend(db)] == [150000.0]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"customer": None}, "data.object.customer"),
        ({"amount_paid": "12.99"}, "data.object.amount_paid"),
    ],
)
def test_an_unmappable_invoice_is_refused_with_the_path(
    sender: Sender, db: Engine, change: dict[str, Any], path: str
) -> None:
    bad = {k: v for k, v in {**invoice(paid=True), **change}.items() if v is not None}
    response = post(sender.http, event("invoice.paid", bad), STRIPE_SECRET)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [path]
    assert spend(db) == []
