"""CloudEvents over real HTTP on loopback, signed as /v1/*: stored once, or refused."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.engine import Engine

from bot.web import create_app
from core.settings import CloudEventsMapping, Settings, SourceMappings
from services.container import build_services
from tests.support.events import NOW, TODAY
from tests.support.sender import Sender, sign
from tests.support.server import TEST_SECRET, TEST_TOKEN, LiveServer, counts

BATCH = "application/cloudevents-batch+json"
SINGLE = "application/cloudevents+json"


def cloudevent(n: int, **fields: Any) -> dict[str, Any]:
    """OpenMeter's example event (openmeter.io docs, "Ingest events"), as event n of the hour."""
    event = {
        "specversion": "1.0",
        "type": "request",
        "id": f"{n:05d}",
        "time": (NOW - timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
        "source": "service-0",
        "subject": "customer-1",
        "data": {"method": "GET", "route": "/hello", "duration_ms": 10},
    }
    event.update(fields)
    return event


def post(sender: Sender, payload: Any, content_type: str = BATCH, **kw: Any) -> httpx.Response:
    """POST signed with Standard Webhooks, as /v1/* takes it, with a CloudEvents media type."""
    body = orjson.dumps(payload)
    msg_id = kw.pop("msg_id", f"msg_{time.time_ns()}")
    ts = kw.pop("timestamp", int(time.time()))
    headers = {
        "content-type": content_type,
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(kw.pop("secret", TEST_SECRET), msg_id, ts, body),
    }
    return sender.http.post("/v1/sources/cloudevents", content=body, headers=headers)


def events_of(sender: Sender, account: str, metric: str) -> float:
    days = sender.get(f"/v1/accounts/{account}/usage", metric=metric, end=TODAY).json()
    return float(sum(d["events"] for d in days["metrics"].get(metric, [])))


def test_a_batch_is_stored_per_subject_and_type(sender: Sender, db: Engine) -> None:
    payload = [
        cloudevent(1),
        cloudevent(2, data={"quantity": 250}),
        cloudevent(3, subject="customer-2", type="prompt"),
    ]

    response = post(sender, payload)

    assert response.status_code == 200, response.text
    assert response.json()["events"] == {"received": 3, "accepted": 3, "duplicates": 0}
    usage = sender.get("/v1/accounts/customer-1/usage", metric="request", end=TODAY).json()
    assert sum(d["quantity"] for d in usage["metrics"]["request"]) == 251.0  # 1 + 250
    assert events_of(sender, "customer-2", "prompt") == 1


def test_one_structured_event_is_stored(sender: Sender, db: Engine) -> None:
    response = post(sender, cloudevent(1), SINGLE)
    assert response.status_code == 200, response.text
    assert events_of(sender, "customer-1", "request") == 1


def test_redelivered_events_are_counted_once(sender: Sender, db: Engine) -> None:
    payload = [cloudevent(n) for n in range(10)]
    first = post(sender, payload, msg_id="msg_ce_1")
    stored = counts(db)

    retry = post(sender, payload, msg_id="msg_ce_1", timestamp=int(time.time()) + 1)
    fresh = [post(sender, payload) for _ in range(3)]
    elsewhere = post(sender, [cloudevent(1, source="service-1")])  # same id, another source

    assert first.json()["events"]["accepted"] == 10
    assert retry.json() == {**first.json(), "duplicate_delivery": True}
    assert all(r.json()["events"]["duplicates"] == 10 for r in fresh)
    assert elsewhere.json()["events"]["accepted"] == 1
    assert counts(db)["events"] == stored["events"] + 1
    assert events_of(sender, "customer-1", "request") == 11


def test_forged_stale_and_unsigned_deliveries_are_refused(sender: Sender, db: Engine) -> None:
    payload = [cloudevent(1)]
    before = counts(db)
    forged_secret = "whsec_" + "Zm9yZ2VkLXNlY3JldC1mb3ItdGVzdHMtb25seQ=="

    forged = post(sender, payload, secret=forged_secret)
    stale = post(sender, payload, timestamp=int(time.time()) - 600)
    unsigned = sender.http.post(
        "/v1/sources/cloudevents", content=orjson.dumps(payload), headers={"content-type": BATCH}
    )

    assert [r.status_code for r in (forged, stale, unsigned)] == [401, 401, 401]
    assert "more than 5 minutes old" in stale.json()["message"]
    assert counts(db) == before


def test_a_bearer_token_is_accepted(sender: Sender, db: Engine) -> None:
    response = sender.bearer(
        "/v1/sources/cloudevents", [cloudevent(1)], headers={"content-type": BATCH}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"subject": None}, "subject"),
        ({"time": None}, "time"),
        ({"id": None}, "id"),
        ({"source": ""}, "source"),
        ({"specversion": "0.3"}, "specversion"),
        ({"data": {"quantity": "many"}}, "data.quantity"),
        ({"data": {"quantity": -3}}, "data.quantity"),
        ({"time": "2026-13-45T00:00:00Z"}, "time"),
    ],
)
def test_unmappable_events_are_refused_with_the_path_and_nothing_is_stored(
    sender: Sender, db: Engine, change: dict[str, Any], path: str
) -> None:
    bad = {k: v for k, v in {**cloudevent(2), **change}.items() if v is not None}
    before = counts(db)

    response = post(sender, [cloudevent(1), bad])

    assert response.status_code == 422, response.text
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(1, path)]
    assert counts(db) == before


def test_a_batch_media_type_with_one_object_is_refused(sender: Sender, db: Engine) -> None:
    response = post(sender, cloudevent(1), BATCH)
    assert response.status_code == 400
    assert "JSON array" in response.json()["message"]


def test_the_quantity_comes_from_the_configured_data_path(settings: Settings, db: Engine) -> None:
    mapping = CloudEventsMapping(quantity="data.duration_ms", user="data.user")
    services = build_services(
        settings.model_copy(update={"sources": SourceMappings(cloudevents=mapping)}), engine=db
    )
    event = cloudevent(1, data={"duration_ms": "12", "user": "ada"})
    with (
        LiveServer(create_app(services)) as live,
        Sender(live.url, secret=TEST_SECRET, token=TEST_TOKEN) as sender,
    ):
        assert post(sender, [event]).status_code == 200
        usage = sender.get("/v1/accounts/customer-1/usage", metric="request", end=TODAY).json()
    assert usage["metrics"]["request"][0]["quantity"] == 12.0
