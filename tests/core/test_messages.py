"""The button value: what a clicked button acts on survives the trip through Slack and Teams."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.messages import ButtonValue


def test_the_wire_form_is_the_one_already_posted_buttons_carry() -> None:
    # Buttons in messages posted by earlier releases must keep working after an upgrade.
    posted = '{"c":"health","a":"acc_42","p":"7"}'
    assert ButtonValue.decode(posted) == ButtonValue("health", "acc_42", "7")
    assert ButtonValue("health", "acc_42", "7").encode() == posted
    assert ButtonValue.decode('{"c":"forecast","a":"acc_1","p":null}').period is None


@given(
    command=st.sampled_from(["health", "value", "forecast", "tier", "snooze"]),
    account_id=st.text(max_size=60),
    period=st.none() | st.text(max_size=10),
)
def test_a_value_reads_back_as_written(command: str, account_id: str, period: str | None) -> None:
    value = ButtonValue(command, account_id, period)
    assert ButtonValue.decode(value.encode()) == value


@pytest.mark.parametrize(
    "value", ["", "acme", "[1, 2]", json.dumps({"a": "acme"}), json.dumps({"c": "health"})]
)
def test_a_value_steward_did_not_write_is_refused_with_its_reason(value: str) -> None:
    with pytest.raises(ValueError, match="not a Steward button value"):
        ButtonValue.decode(value)
