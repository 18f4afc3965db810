"""Daily rollups: sum newly stored events per account, metric and UTC day (pure).

Only events that the insert actually stored (not duplicates) are folded in, so a
rollup always equals the sum of the raw events behind it (see repository.insert_events).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

BREAKDOWN_DIMENSIONS = (("feature", "feature"), ("team", "team"), ("user", "user_id"))


@dataclass(slots=True)
class Totals:
    """Running totals for one rollup row."""

    quantity: float = 0.0
    events: int = 0
    successes: int = 0
    failures: int = 0

    def add(self, quantity: float, success: bool | None) -> None:
        self.quantity += quantity
        self.events += 1
        if success is True:
            self.successes += 1
        elif success is False:
            self.failures += 1


DailyKey = tuple[str, str, date]
BreakdownKey = tuple[str, str, date, str, str]


def aggregate(
    events: Iterable[Mapping[str, Any]],
) -> tuple[dict[DailyKey, Totals], dict[BreakdownKey, Totals]]:
    """Sum event rows (as stored in usage_events) by UTC day, and by feature, team and user."""
    daily: dict[DailyKey, Totals] = {}
    breakdown: dict[BreakdownKey, Totals] = {}
    for ev in events:
        day = ev["ts"].astimezone(UTC).date()
        key = (ev["account_id"], ev["metric"], day)
        totals = daily.get(key)
        if totals is None:
            totals = daily[key] = Totals()
        totals.add(ev["quantity"], ev["success"])
        for dimension, column in BREAKDOWN_DIMENSIONS:
            value = ev[column]
            if value is None:
                continue
            bkey = (*key, dimension, value)
            btotals = breakdown.get(bkey)
            if btotals is None:
                btotals = breakdown[bkey] = Totals()
            btotals.add(ev["quantity"], ev["success"])
    return daily, breakdown
