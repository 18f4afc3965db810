"""No input a sender can send produces a 500: random bodies, signed, at every endpoint."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.sender import Sender

FIELDS = [
    "id",
    "account",
    "timestamp",
    "metric",
    "quantity",
    "user",
    "feature",
    "team",
    "success",
    "properties",
    "name",
    "arr",
    "start_date",
    "end_date",
    "committed_amount",
    "unit_prices",
    "status",
    "opened_at",
    "solved_at",
    "csat",
    "timezone",
    "kind",
]
ENDPOINTS = ["/v1/events", "/v1/accounts", "/v1/contracts", "/v1/tickets"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["2026-11-20T10:00:00Z", "2026-02-29", "2026-11-20T10:00:00", "tokens"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
VALID = {
    "/v1/events": {
        "id": "e1",
        "account": "acme",
        "timestamp": "2026-11-20T10:00:00Z",
        "metric": "tokens",
        "quantity": 3,
    },
    "/v1/accounts": {"id": "acme", "name": "Acme"},
    "/v1/contracts": {
        "id": "c1",
        "account": "acme",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "committed_amount": 1000,
    },
    "/v1/tickets": {
        "id": "t1",
        "account": "acme",
        "status": "open",
        "opened_at": "2026-11-20T10:00:00Z",
    },
}
items = st.dictionaries(st.sampled_from(FIELDS), values, max_size=10)
# A valid item with one or two fields replaced: reaches the database far more often.
near_valid = st.builds(
    lambda base, changes: {**base, **changes},
    st.sampled_from(list(VALID.values())),
    st.dictionaries(st.sampled_from(FIELDS), values, min_size=1, max_size=2),
)
payloads = (
    near_valid
    | st.lists(near_valid, max_size=3)
    | items
    | st.lists(items, max_size=5)
    | st.builds(lambda xs: {"events": xs}, st.lists(items, max_size=5))
    | st.builds(lambda xs: {"accounts": xs}, st.lists(items, max_size=5))
    | values
)


def encode(payload: Any) -> bytes:
    return json.dumps(payload, allow_nan=True).encode()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(endpoint=st.sampled_from(ENDPOINTS), body=payloads.map(encode) | st.binary(max_size=64))
def test_random_signed_bodies_never_get_a_server_error(
    sender: Sender, endpoint: str, body: bytes
) -> None:
    response = sender.signed(endpoint, None, body=body)
    assert response.status_code in {200, 400, 413, 422}, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    if response.status_code != 200:
        assert response.json()["message"]
