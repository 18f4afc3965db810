"""Alert keys: stored as text, read back into their kind, detail and day."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signals.alerts import AlertKey, kind_of


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("usage_drop", AlertKey("usage_drop")),
        ("new_use_case:voice", AlertKey("new_use_case", "voice")),
        ("tier_change@2026-11-02", AlertKey("tier_change", day=date(2026, 11, 2))),
        ("new_use_case:bots@v2", AlertKey("new_use_case", "bots@v2")),  # a feature's own @
        ("new_use_case:a:b@2026-01-31", AlertKey("new_use_case", "a:b", date(2026, 1, 31))),
    ],
)
def test_stored_keys_read_back_into_their_parts(text: str, key: AlertKey) -> None:
    assert AlertKey.parse(text) == key
    assert str(key) == text


# A detail that itself ends in "@<date>" would read as a dated key: features are not so named.
DETAILS = st.text(max_size=30).filter(lambda d: not re.search(r"@\d{4}-\d{2}-\d{2}$", d))


@given(
    kind=st.sampled_from(["usage_drop", "new_use_case", "tier_change"]),
    detail=st.none() | DETAILS,
    day=st.none() | st.dates(),
)
def test_every_key_reads_back_as_written(kind: str, detail: str | None, day: date | None) -> None:
    key = AlertKey(kind, detail, day)
    assert AlertKey.parse(str(key)) == key
    assert kind_of(str(key)) == kind


def test_a_key_steward_never_writes_still_names_its_kind() -> None:
    assert kind_of("usage_drop@yesterday") == "usage_drop"
