"""Usage events shaped as senders send them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime.now(UTC).replace(microsecond=0)


TODAY = NOW.date().isoformat()


def event(n: int, **fields: Any) -> dict[str, Any]:
    base = {
        "id": f"evt_{n}",
        "account": "acme",
        "timestamp": (NOW - timedelta(hours=1)).isoformat(),
        "metric": "tokens",
        "quantity": 10.0 + n,
    }
    base.update(fields)
    return base


def batch(count: int, start: int = 0, **fields: Any) -> dict[str, Any]:
    return {"events": [event(n, **fields) for n in range(start, start + count)]}
