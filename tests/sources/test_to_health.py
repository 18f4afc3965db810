"""End to end: what Segment, a CloudEvents sender and Stripe send shows up in /health and
/forecast, with nothing written by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from bot.adapters.console.render import to_text
from handlers.chat.commands import handle
from handlers.chat.context import CommandRequest, Context, Person
from services.container import utc_now
from signals.config import ScoringConfig
from tests.sources.conftest import HUBSPOT_SECRET, SEGMENT_SECRET, STRIPE_SECRET, ZENDESK_SECRET
from tests.sources.test_cloudevents import cloudevent, post
from tests.support.events import NOW
from tests.support.hubspot_events import company_event
from tests.support.hubspot_events import post as hubspot_post
from tests.support.segment import group, post_signed, track
from tests.support.sender import Sender
from tests.support.stripe_events import customer, event, invoice, subscription
from tests.support.stripe_events import post as stripe_post
from tests.support.zendesk_events import post as zendesk_post
from tests.support.zendesk_events import ticket_event

CASEY = Person("U123", email="casey@example.com", name="Casey")


def health(engine: Engine, name: str) -> str:
    return ask(engine, "health", name)


def ask(engine: Engine, command: str, name: str) -> str:
    ctx = Context(engine=engine, config=ScoringConfig.from_mapping({}), now=utc_now())
    text = to_text(handle(CommandRequest(command, name, CASEY), ctx))
    return " ".join(text.split())  # the terminal's line breaks out of the way


def _days_ago(days: int) -> str:
    return (NOW - timedelta(days=days, hours=1)).isoformat()


def test_segment_cloudevents_and_stripe_deliveries_show_up_in_health(
    sender: Sender, db: Engine
) -> None:
    calls = [group("initech-1", user="u1", arr=120000)]
    calls += [track(n, user="u1", hours_ago=24 * (n % 20) + 1) for n in range(40)]
    assert post_signed(sender.http, {"batch": calls}, SEGMENT_SECRET).status_code == 200
    ce = [cloudevent(n, subject="hooli", time=_days_ago(n % 20)) for n in range(30)]
    assert post(sender, ce).status_code == 200

    named = customer(name="Initech", metadata={"steward_account": "initech-1"})
    sub = subscription(metadata={"steward_account": "initech-1"})
    assert stripe_post(sender.http, event("customer.updated", named), STRIPE_SECRET).is_success
    paid = event("customer.subscription.created", sub, 2)
    assert stripe_post(sender.http, paid, STRIPE_SECRET).is_success
    bill = invoice(paid=True, metadata={"steward_account": "initech-1"})
    assert stripe_post(sender.http, event("invoice.paid", bill, 3), STRIPE_SECRET).is_success

    initech = health(db, "initech")
    forecast = ask(db, "forecast", "initech")
    hooli = health(db, "hooli")

    assert initech.startswith("Initech: health")  # the group call's name
    assert "$120,000" in initech  # traits.arr
    assert "1 active users" in initech  # userId
    assert "course_clicked per day for Initech: 40 in the last 4 weeks" in initech
    assert "of the $12,000 commit used" in forecast  # the Stripe subscription
    assert "spend per day for Initech: 1,299 in the last 4 weeks" in initech  # its invoice
    assert hooli.startswith("hooli: health")  # the subject, a placeholder named by its id
    assert "request per day for hooli: 30 in the last 4 weeks" in hooli


def test_a_zendesk_ticket_shows_up_in_health(sender: Sender, db: Engine) -> None:
    calls = [group("initech-1", user="u1", arr=120000)]
    calls += [track(n, user="u1", hours_ago=24 * (n % 20) + 1) for n in range(20)]
    assert post_signed(sender.http, {"batch": calls}, SEGMENT_SECRET).status_code == 200
    urgent = ticket_event(organization_id="initech-1", priority="URGENT")
    assert zendesk_post(sender.http, urgent, ZENDESK_SECRET).status_code == 200

    initech = health(db, "initech")

    assert "Support load: 1 tickets opened in the last 28 days, 1 open (1 high or urgent)" in (
        initech
    )


def test_a_hubspot_company_shows_up_in_health(sender: Sender, db: Engine) -> None:
    renewal = (NOW + timedelta(days=45)).date()
    midnight_ms = int(datetime(renewal.year, renewal.month, renewal.day, tzinfo=UTC).timestamp())
    events = [
        company_event("creation", company=777, n=1),
        company_event("propertyChange", company=777, n=2, name="name", value="Globex"),
        company_event("propertyChange", company=777, n=3, name="arr", value="250000"),
        company_event(
            "propertyChange", company=777, n=4, name="renewal_date", value=str(midnight_ms * 1000)
        ),
    ]
    assert hubspot_post(sender.http, events, HUBSPOT_SECRET).status_code == 200
    calls = [group("777", user="u7", name="Globex")]  # the product's usage, by Segment
    calls += [track(n, user="u7", hours_ago=24 * (n % 20) + 1) for n in range(20)]
    assert post_signed(sender.http, {"batch": calls}, SEGMENT_SECRET).status_code == 200

    globex = health(db, "globex")

    assert globex.startswith("Globex: health")
    assert "$250,000" in globex
    assert f"Renewal: {renewal.isoformat()}" in globex
