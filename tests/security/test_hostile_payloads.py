"""Issue 22 rows 7-9: signed payloads built to break Steward get a clear 4xx, never a 500.

Each was reproduced over HTTP before its fix: deep nesting and a lone surrogate answered
500 and reset the connection; two quantities of 1.7e308 on one day broke PostgreSQL's
sums (SQLite read them back as null); 531k unknown keys produced a 37 MB error answer.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine

from handlers.api.schemas import MAX_QUANTITY
from tests.support.events import event
from tests.support.sender import Sender
from tests.support.server import counts


def raw_batch(sender: Sender, text: str) -> int:
    """POST a body given as JSON text (so it can hold what json.dumps would not write)."""
    return sender.signed("/v1/events", None, body=text.encode()).status_code


@pytest.mark.parametrize("depth", [254, 5000])
def test_deeply_nested_properties_are_refused_with_422(
    sender: Sender, db: Engine, depth: int
) -> None:
    item = json.dumps(event(1))[:-1] + ', "properties": ' + '{"a": ' * depth + "1" + "}" * depth
    status = raw_batch(sender, '{"events": [' + item + "}]}")
    assert status in (400, 422)
    assert counts(db)["events"] == 0


def test_a_lone_surrogate_is_refused_with_422(sender: Sender, db: Engine) -> None:
    text = json.dumps({"events": [event(1, user="\\ud800")]}).replace("\\\\ud800", "\\ud800")
    answer = sender.signed("/v1/events", None, body=text.encode())
    assert answer.status_code == 422
    assert "user" in answer.text
    assert counts(db)["events"] == 0


def test_quantities_above_the_documented_cap_are_refused(sender: Sender, db: Engine) -> None:
    huge = sender.signed("/v1/events", {"events": [event(1, quantity=1.7e308)]})
    assert huge.status_code == 422
    assert huge.json()["errors"][0]["field"] == "quantity"
    fine = [event(n, quantity=MAX_QUANTITY) for n in (2, 3)]  # two at the cap, one day
    assert sender.signed("/v1/events", {"events": fine}).status_code == 200
    usage = sender.get("/v1/accounts/acme/usage", metric="tokens").json()
    assert usage["metrics"]["tokens"][0]["quantity"] == 2 * MAX_QUANTITY  # sums stay finite


def test_an_item_with_countless_unknown_keys_gets_a_short_answer(sender: Sender) -> None:
    item = event(1) | {f"k{n}": 1 for n in range(100_000)}
    answer = sender.signed("/v1/events", {"events": [item]})
    assert answer.status_code == 422
    assert len(answer.content) < 64 * 1024
    body = answer.json()
    assert len(body["errors"]) <= 100
    assert "the first 100 of 100,0" in body["message"]


def test_an_integer_past_64_bits_in_properties_is_refused_with_422(
    sender: Sender, db: Engine
) -> None:
    # NaN or Infinity elsewhere sends the body through the lenient parser, which keeps big
    # integers: hypothesis found the 500 this answered (test_fuzz.py).
    item = json.dumps(event(1, quantity=1))[:-1] + ', "properties": {"n": -9223372036854775809}}'
    body = '{"events": [' + item.replace('"quantity": 1', '"quantity": NaN') + "]}"
    answer = sender.signed("/v1/events", None, body=body.encode())
    assert answer.status_code == 422
    assert {e["field"] for e in answer.json()["errors"]} == {"quantity", "properties"}
    assert counts(db)["events"] == 0
