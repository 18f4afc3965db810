"""The ingestion API over real HTTP on loopback, against the session's real database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import tables
from tests.support.events import NOW, TODAY, batch, event
from tests.support.sender import Sender, sign
from tests.support.server import ROTATED_SECRET, counts


def usage_total(sender: Sender, account: str = "acme", metric: str = "tokens") -> float:
    body = sender.get(f"/v1/accounts/{account}/usage", metric=metric).json()
    return float(sum(day["quantity"] for day in body["metrics"].get(metric, [])))


def test_signed_batch_is_stored_and_read_back(sender: Sender, db: Engine) -> None:
    payload = batch(50)
    payload["events"][0]["timestamp"] = "2026-11-01T23:30:00-05:00"  # 04:30 UTC the next day

    response = sender.signed("/v1/events", payload)

    assert response.status_code == 200, response.text
    assert response.json() == {"received": 50, "accepted": 50, "duplicates": 0}
    usage = sender.get(
        "/v1/accounts/acme/usage", metric="tokens", start="2026-11-01", end=TODAY
    ).json()
    by_day = {d["date"]: d for d in usage["metrics"]["tokens"]}
    assert by_day["2026-11-02"] == {"date": "2026-11-02", "quantity": 10.0, "events": 1}
    assert sum(d["events"] for d in by_day.values()) == 50
    assert sum(d["quantity"] for d in by_day.values()) == sum(10.0 + n for n in range(50))
    stored = counts(db)
    assert stored["events"] == stored["daily_events"] == 50
    assert stored["daily_quantity"] == pytest.approx(stored["event_quantity"])
    account = sender.get("/v1/accounts/acme").json()
    assert account["id"] == "acme"
    assert account["is_placeholder"] is True
    with db.connect() as conn:
        first = conn.execute(
            sa.select(tables.usage_events).where(tables.usage_events.c.id == "evt_0")
        ).one()
    assert first.ts == datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
    assert (first.account_id, first.metric, first.quantity) == ("acme", "tokens", 10.0)


def test_resent_batch_is_counted_once(sender: Sender, db: Engine) -> None:
    payload = batch(20)
    assert sender.signed("/v1/events", payload).json()["accepted"] == 20
    before = counts(db)

    again = sender.signed("/v1/events", payload)  # a new delivery id, the same event ids

    assert again.status_code == 200
    assert again.json() == {"received": 20, "accepted": 0, "duplicates": 20}
    after = counts(db)
    assert {k: after[k] for k in after if k != "deliveries"} == {
        k: before[k] for k in before if k != "deliveries"
    }
    assert usage_total(sender) == sum(10.0 + n for n in range(20))


def test_retried_delivery_gets_its_first_answer(sender: Sender, db: Engine) -> None:
    payload = batch(5)
    first = sender.signed("/v1/events", payload, msg_id="msg_retry")
    retry = sender.signed("/v1/events", payload, msg_id="msg_retry", timestamp=int(time.time()) + 1)

    assert first.json() == {"received": 5, "accepted": 5, "duplicates": 0}
    assert retry.status_code == 200
    assert retry.json() == {**first.json(), "duplicate_delivery": True}
    assert counts(db)["events"] == 5


def test_reused_delivery_id_with_another_body_is_refused(sender: Sender, db: Engine) -> None:
    sender.signed("/v1/events", batch(3), msg_id="msg_same")
    before = counts(db)

    response = sender.signed("/v1/events", batch(3, start=100), msg_id="msg_same")

    assert response.status_code == 409
    assert "already used for a different body" in response.json()["message"]
    assert counts(db) == before


def test_batch_sent_concurrently_is_counted_once(sender: Sender, db: Engine) -> None:
    payload = batch(300)
    clients = 8
    barrier = threading.Barrier(clients)
    results: list[dict[str, Any]] = []

    def send(i: int) -> None:
        with Sender(str(sender.http.base_url), secret=sender.secret, token=sender.token) as own:
            barrier.wait()
            # Half the clients retry one delivery id; the others send fresh deliveries.
            msg_id = "msg_shared" if i % 2 else None
            results.append(own.signed("/v1/events", payload, msg_id=msg_id).json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(results) == clients
    assert sum(r["accepted"] for r in results if not r.get("duplicate_delivery")) == 300
    stored = counts(db)
    assert stored["events"] == stored["daily_events"] == 300
    assert stored["daily_quantity"] == pytest.approx(sum(10.0 + n for n in range(300)))


def test_rotated_secret_is_accepted(sender: Sender) -> None:
    response = sender.signed("/v1/events", batch(1), secret=ROTATED_SECRET)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


def test_bearer_token_with_idempotency_key(sender: Sender, db: Engine) -> None:
    headers = {"idempotency-key": "import-2026-11-21"}
    first = sender.bearer("/v1/events", batch(4), headers=headers)
    second = sender.bearer("/v1/events", batch(4), headers=headers)
    assert first.json()["accepted"] == 4
    assert second.json()["duplicate_delivery"] is True
    assert counts(db)["events"] == 4


# Each case's signing options, made when the test runs (a timestamp taken when the module
# was collected is no longer "in the future" ten minutes into a slow suite).
BAD_AUTH: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "wrong secret": (lambda: {"secret": "whsec_" + "A" * 43 + "="}, "no matching signature"),
    "stale timestamp": (
        lambda: {"timestamp": int(time.time()) - 600},
        "more than 5 minutes old",
    ),
    "future timestamp": (lambda: {"timestamp": int(time.time()) + 600}, "in the future"),
}


@pytest.mark.parametrize("case", BAD_AUTH, ids=list(BAD_AUTH))
def test_bad_signature_is_refused_and_changes_nothing(
    sender: Sender, db: Engine, case: str
) -> None:
    options, reason = BAD_AUTH[case]
    response = sender.signed("/v1/events", batch(3), **options())
    assert response.status_code == 401
    assert reason in response.json()["message"]
    assert counts(db)["events"] == 0


def test_body_changed_after_signing_is_refused(sender: Sender, db: Engine) -> None:
    signed_body = b'{"events": []}'
    msg_id, ts = "msg_tamper", int(time.time())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(sender.secret, msg_id, ts, signed_body),
    }
    tampered = sender.unauthenticated(
        "POST",
        "/v1/events",
        content=b'{"events": [' + bytes(str(event(1)).replace("'", '"'), "utf8") + b"]}",
        headers=headers,
    )
    assert tampered.status_code == 401
    assert counts(db)["events"] == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer not-a-known-token-at-all"},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time()))},
        {"webhook-id": "m", "webhook-timestamp": "now", "webhook-signature": "v1,abc"},
        {"webhook-id": "m", "webhook-timestamp": str(int(time.time())), "webhook-signature": "x"},
    ],
    ids=["none", "unknown token", "basic", "no signature", "bad timestamp", "malformed"],
)
def test_missing_or_wrong_credentials_get_401(
    sender: Sender, db: Engine, headers: dict[str, str]
) -> None:
    response = sender.unauthenticated("POST", "/v1/events", json=batch(2), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.json()["message"]
    assert counts(db)["events"] == 0


def test_reads_need_a_bearer_token(sender: Sender) -> None:
    sender.signed("/v1/events", batch(1))
    assert sender.unauthenticated("GET", "/v1/accounts/acme/usage").status_code == 401
    assert sender.unauthenticated("GET", "/v1/accounts/acme").status_code == 401
    assert sender.get("/v1/accounts/acme/usage").status_code == 200
    assert sender.get("/v1/accounts/nobody").status_code == 404
    assert sender.get("/v1/accounts/acme/usage", start="2026-02-30").status_code == 400
    assert sender.get("/v1/accounts/acme/usage", start=TODAY, end="2020-01-01").status_code == 400


def test_oversize_body_gets_413(sender: Sender, db: Engine) -> None:
    padding = "x" * 4000
    payload = {"events": [event(n, properties={"p": padding[:3000]}) for n in range(1800)]}
    response = sender.signed("/v1/events", payload)
    assert response.status_code == 413
    assert "at most" in response.json()["message"]
    assert counts(db)["events"] == 0


def test_too_many_items_get_413(sender: Sender, db: Engine) -> None:
    response = sender.signed("/v1/events", batch(5001))
    assert response.status_code == 413
    assert "5001 items" in response.json()["message"]
    assert counts(db)["events"] == 0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty body"),
        (b'{"events": [', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b'"just a string"', "must be a JSON object"),
        (b'{"events": {"id": 1}}', '"events" must be a list'),
        (b'{"events": [], "extra": 1}', "unexpected top-level key"),
    ],
    ids=["empty", "truncated", "binary", "string", "events not list", "extra key"],
)
def test_malformed_bodies_get_400(sender: Sender, db: Engine, body: bytes, fragment: str) -> None:
    response = sender.signed("/v1/events", None, body=body)
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert counts(db)["events"] == 0


BAD_ITEMS = {
    "quantity as text": ({"quantity": "12"}, "quantity", "valid number"),
    "negative quantity": ({"quantity": -1}, "quantity", "greater than or equal to 0"),
    "boolean quantity": ({"quantity": True}, "quantity", "valid number"),
    "account as number": ({"account": 42}, "account", "valid string"),
    "naive timestamp": ({"timestamp": "2026-11-20T10:00:00"}, "timestamp", "UTC offset"),
    "epoch timestamp": ({"timestamp": 1763600000}, "timestamp", "string"),
    "timestamp in the future": (
        {"timestamp": (NOW + timedelta(hours=2)).isoformat()},
        "timestamp",
        "in the future",
    ),
    "ancient timestamp": ({"timestamp": "1999-12-31T23:00:00Z"}, "timestamp", "2000"),
    "bad metric": ({"metric": "tokens used!"}, "metric", "pattern"),
    "long id": ({"id": "x" * 256}, "id", "at most 255"),
    "unknown field": ({"qty": 3}, "qty", "Extra inputs"),
    "success as text": ({"success": "yes"}, "success", "valid boolean"),
    "huge properties": ({"properties": {"k": "v" * 5000}}, "properties", "4096 bytes"),
}


@pytest.mark.parametrize("case", BAD_ITEMS, ids=list(BAD_ITEMS))
def test_one_bad_item_refuses_the_whole_batch(sender: Sender, db: Engine, case: str) -> None:
    change, field, reason = BAD_ITEMS[case]
    payload = batch(10)
    payload["events"][7].update(change)

    response = sender.signed("/v1/events", payload)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"] == "1 of 10 events invalid; nothing was stored"
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(7, field)]
    assert reason in body["errors"][0]["reason"]
    stored = counts(db)
    assert (stored["events"], stored["accounts"], stored["deliveries"]) == (0, 0, 0)


def test_nan_and_infinity_are_named_per_item(sender: Sender, db: Engine) -> None:
    body = (
        b'{"events": [{"id": "a", "account": "acme", "timestamp": "2026-11-20T10:00:00Z",'
        b' "metric": "tokens", "quantity": NaN}, {"id": "b", "account": "acme",'
        b' "timestamp": "2026-11-20T10:00:00Z", "metric": "tokens", "quantity": -Infinity}]}'
    )
    response = sender.signed("/v1/events", None, body=body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["index"], e["field"], e["reason"]) for e in errors] == [
        (0, "quantity", "Input should be a finite number"),
        (1, "quantity", "Input should be a finite number"),
    ]
    assert counts(db)["events"] == 0


def test_every_bad_item_is_listed(sender: Sender, db: Engine) -> None:
    payload = batch(6)
    payload["events"][1]["quantity"] = -5
    payload["events"][4] = {"id": "only-an-id"}
    response = sender.signed("/v1/events", payload)
    errors = response.json()["errors"]
    assert response.status_code == 422
    assert {e["index"] for e in errors} == {1, 4}
    assert {e["field"] for e in errors if e["index"] == 4} == {"account", "timestamp", "metric"}


def test_single_event_without_envelope(sender: Sender, db: Engine) -> None:
    response = sender.signed("/v1/events", event(1, quantity=7))
    assert response.json() == {"received": 1, "accepted": 1, "duplicates": 0}
    assert usage_total(sender) == 7


def test_repeated_id_within_one_batch_counts_once(sender: Sender) -> None:
    payload = {"events": [event(1, quantity=5), event(1, quantity=5), event(2, quantity=1)]}
    response = sender.signed("/v1/events", payload)
    assert response.json() == {"received": 3, "accepted": 2, "duplicates": 1}
    assert usage_total(sender) == 6


def test_feature_team_and_user_breakdowns(sender: Sender, db: Engine) -> None:
    payload = {
        "events": [
            event(1, user="u1", feature="chat", team="support", success=True),
            event(2, user="u2", feature="chat", success=False),
            event(3, user="u1", feature="search"),
        ]
    }
    sender.signed("/v1/events", payload)
    with db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT dimension, value, quantity, events, successes, failures "
                "FROM usage_daily_breakdown ORDER BY dimension, value"
            )
        ).all()
        daily = conn.execute(sa.text("SELECT successes, failures FROM usage_daily")).one()
    assert [tuple(r) for r in rows] == [
        ("feature", "chat", 23.0, 2, 1, 1),
        ("feature", "search", 13.0, 1, 0, 0),
        ("team", "support", 11.0, 1, 1, 0),
        ("user", "u1", 24.0, 2, 1, 0),
        ("user", "u2", 12.0, 1, 0, 1),
    ]
    assert tuple(daily) == (1, 1)


def test_healthz_and_readyz(sender: Sender) -> None:
    assert sender.unauthenticated("GET", "/healthz").json() == {"status": "ok"}
    ready = sender.unauthenticated("GET", "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_unknown_path_and_method(sender: Sender) -> None:
    assert sender.unauthenticated("GET", "/v1/nothing").status_code == 404
    assert sender.unauthenticated("GET", "/v1/events").status_code == 405


def test_nul_characters_are_refused(sender: Sender, db: Engine) -> None:
    payload = {"events": [event(1, account="ac\x00me"), event(2, properties={"note": "a\x00"})]}
    response = sender.signed("/v1/events", payload)
    assert response.status_code == 422
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [
        (0, "account"),
        (1, "properties"),
    ]
    assert counts(db)["events"] == 0


def test_openapi_documents_the_bodies(sender: Sender) -> None:
    spec = sender.unauthenticated("GET", "/openapi.json").json()
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    single, batch_schema = body["schema"]["oneOf"]
    assert {"id", "account", "timestamp", "metric"} <= set(single["required"])
    assert batch_schema["properties"]["events"]["items"] == single
    assert "/v1/accounts/{account_id}/usage" in spec["paths"]
