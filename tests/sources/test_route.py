"""What every source shares with /v1/*: its limits and errors, before any vendor's code."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.sources.conftest import SEGMENT_SECRET
from tests.support.segment import signature
from tests.support.sender import Sender
from tests.support.server import counts


def post_raw(sender: Sender, body: bytes, **headers: str) -> dict[str, object]:
    sig = signature(SEGMENT_SECRET, body)
    response = sender.http.post(
        "/v1/sources/segment",
        content=body,
        headers={"content-type": "application/json", "x-signature": sig, **headers},
    )
    return {"status": response.status_code, **response.json()}


def test_an_unknown_source_is_not_found_and_names_the_known_ones(sender: Sender) -> None:
    response = sender.bearer("/v1/sources/salesforce", {"Id": "001"})
    assert response.status_code == 404
    assert "cloudevents, hubspot, segment, stripe, zendesk" in response.json()["message"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(sender: Sender, db: Engine) -> None:
    before = counts(db)
    body = b'{"batch": [' + b" " * (5 * 1024 * 1024) + b"]}"
    answer = post_raw(sender, body)
    assert (answer["status"], answer["error"]) == (413, "too_large")
    assert counts(db) == before


def test_a_body_that_is_not_json_is_a_400(sender: Sender, db: Engine) -> None:
    assert post_raw(sender, b'{"type": "track",')["status"] == 400
    assert post_raw(sender, b"\xff\xfe{}")["status"] == 400
    assert post_raw(sender, b"")["status"] == 400
    assert post_raw(sender, b'"track"')["status"] == 400


def test_the_answer_is_refused_for_unsigned_requests_before_the_body_is_parsed(
    sender: Sender,
) -> None:
    response = sender.http.post("/v1/sources/segment", content=b"not json")
    assert response.status_code == 401
