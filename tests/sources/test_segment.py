"""Segment calls over real HTTP on loopback: signed as Segment signs, stored once, or refused."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.web import create_app
from core.settings import SegmentMapping, Settings, SourceMappings
from services.container import build_services
from storage import tables
from tests.sources.conftest import SEGMENT_SECRET
from tests.support.events import TODAY
from tests.support.segment import group, post_signed, track
from tests.support.sender import Sender
from tests.support.server import LiveServer, counts

INITECH = "0e8c78ea9d97a7b8185e8632"


def usage(sender: Sender, account: str, metric: str) -> list[dict[str, Any]]:
    response = sender.get(f"/v1/accounts/{account}/usage", metric=metric, end=TODAY)
    assert response.status_code == 200, response.text
    return list(response.json()["metrics"].get(metric, []))


def test_a_batch_with_a_group_call_stores_the_account_and_its_usage(
    sender: Sender, db: Engine
) -> None:
    payload = {
        "batch": [
            group(arr=120000),
            track(1),
            track(2, properties={"title": "Intro", "quantity": 3}),
        ]
    }

    response = post_signed(sender.http, payload, SEGMENT_SECRET)

    assert response.status_code == 200, response.text
    assert response.json()["events"] == {"received": 2, "accepted": 2, "duplicates": 0}
    account = sender.get(f"/v1/accounts/{INITECH}").json()
    assert (account["name"], account["segment"], account["arr"]) == ("Initech", "enterprise", 1.2e5)
    assert account["is_placeholder"] is False
    days = usage(sender, INITECH, "course_clicked")
    assert sum(d["quantity"] for d in days) == 4.0  # 1 (no quantity) + 3
    assert sum(d["events"] for d in days) == 2


def test_redelivered_calls_are_counted_once(sender: Sender, db: Engine) -> None:
    payload = {"batch": [group(), *(track(n, context={"groupId": INITECH}) for n in range(5))]}
    first = post_signed(sender.http, payload, SEGMENT_SECRET)
    stored = counts(db)

    again = [post_signed(sender.http, payload, SEGMENT_SECRET) for _ in range(3)]
    single = post_signed(sender.http, track(2, context={"groupId": INITECH}), SEGMENT_SECRET)

    assert first.json()["events"]["accepted"] == 5
    assert all(r.status_code == 200 for r in again)
    assert all(r.json()["events"]["duplicates"] == 5 for r in again)
    assert single.json()["events"] == {"received": 1, "accepted": 0, "duplicates": 1}
    assert counts(db) == stored
    assert sum(d["events"] for d in usage(sender, INITECH, "course_clicked")) == 5


def test_a_later_track_call_finds_the_account_of_an_earlier_group_call(
    sender: Sender, db: Engine
) -> None:
    assert post_signed(sender.http, group(user="u-42"), SEGMENT_SECRET).status_code == 200
    other = track(7, user="u-42", context={"groupId": "globex"})

    response = post_signed(sender.http, {"batch": [track(1, user="u-42"), other]}, SEGMENT_SECRET)

    assert response.status_code == 200, response.text
    assert sum(d["events"] for d in usage(sender, INITECH, "course_clicked")) == 1
    assert sum(d["events"] for d in usage(sender, "globex", "course_clicked")) == 1


def test_a_track_call_with_no_account_is_refused_naming_the_path(
    sender: Sender, db: Engine
) -> None:
    before = counts(db)
    good = track(1, context={"groupId": INITECH})

    response = post_signed(
        sender.http, {"batch": [good, track(2, user="stranger")]}, SEGMENT_SECRET
    )

    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["index"] == 1
    assert body["errors"][0]["field"] == "context.groupId"
    assert "no group call was seen" in body["errors"][0]["reason"]
    assert counts(db) == before


@pytest.mark.parametrize(
    ("call", "path"),
    [
        ({k: v for k, v in track(1).items() if k != "messageId"}, "messageId"),
        ({k: v for k, v in track(1).items() if k != "event"}, "event"),
        (track(1, properties={"quantity": "lots"}), "properties.quantity"),
        (track(1, context={"groupId": INITECH}, timestamp="yesterday"), "timestamp"),
        ({k: v for k, v in group().items() if k != "groupId"}, "groupId"),
        (track(1, type="flush"), "type"),
    ],
)
def test_unmappable_calls_are_refused_with_the_path_and_nothing_is_stored(
    sender: Sender, db: Engine, call: dict[str, object], path: str
) -> None:
    before = counts(db)

    response = post_signed(sender.http, {"batch": [group(), call]}, SEGMENT_SECRET)

    assert response.status_code == 422, response.text
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(1, path)]
    assert counts(db) == before


def test_forged_altered_and_unsigned_calls_are_refused(sender: Sender, db: Engine) -> None:
    payload = {"batch": [group(), track(1)]}
    before = counts(db)

    forged = post_signed(sender.http, payload, "not-the-secret")
    altered = post_signed(sender.http, payload, SEGMENT_SECRET, signature_of=b'{"batch":[]}')
    unsigned = sender.unauthenticated(
        "POST", "/v1/sources/segment", json=payload, headers={"content-type": "application/json"}
    )

    assert [r.status_code for r in (forged, altered, unsigned)] == [401, 401, 401]
    assert "X-Signature rejected" in forged.json()["message"]
    assert "missing credentials" in unsigned.json()["message"]
    assert counts(db) == before


def test_a_bearer_token_is_accepted_as_on_v1(sender: Sender, db: Engine) -> None:
    response = sender.bearer("/v1/sources/segment", track(1, context={"groupId": "acme"}))
    assert response.status_code == 200, response.text
    assert sum(d["events"] for d in usage(sender, "acme", "course_clicked")) == 1


def test_a_configured_property_names_the_account_when_nothing_else_does(
    settings: Settings, db: Engine
) -> None:
    mapped = SourceMappings(segment=SegmentMapping(account="properties.account_id"))
    services = build_services(settings.model_copy(update={"sources": mapped}), engine=db)
    with LiveServer(create_app(services)) as live, Sender(live.url, secret="", token="") as sender:
        call = track(1, properties={"account_id": "hooli"})
        response = post_signed(sender.http, call, SEGMENT_SECRET)
    assert response.status_code == 200, response.text
    with db.connect() as conn:
        owner = conn.scalar(sa.select(tables.usage_events.c.account_id))
    assert owner == "hooli"


def test_a_batch_sent_concurrently_is_counted_once(sender: Sender, db: Engine) -> None:
    users = [f"u{n}" for n in range(20)]
    calls = [group(f"acct-{n % 4}", user=u, name=f"Account {n % 4}") for n, u in enumerate(users)]
    calls += [track(n, user=users[n % 20]) for n in range(200)]
    payload = {"batch": calls}
    clients = 6
    barrier = threading.Barrier(clients)
    statuses: list[int] = []

    def send() -> None:
        with Sender(str(sender.http.base_url), secret="", token="") as own:
            barrier.wait()
            statuses.append(post_signed(own.http, payload, SEGMENT_SECRET).status_code)

    threads = [threading.Thread(target=send) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert statuses == [200] * clients
    stored = counts(db)
    assert stored["events"] == stored["daily_events"] == 200
    assert stored["accounts"] == 4
