"""Several processes' worth of writers (separate engines and pools) on one database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from core.settings import IngestLimits
from handlers.api import payloads
from handlers.api.schemas import EventIn
from services import ingest
from storage.db import make_engine
from tests.support.server import counts


def models(start: int, count: int) -> list[EventIn]:
    now = datetime.now(UTC)
    raw = [
        {
            "id": f"w{n:05d}",
            "account": f"acct_{n % 13}",
            "timestamp": (now - timedelta(hours=n % 50)).isoformat(),
            "metric": "tokens",
            "quantity": float(n % 7),
            "user": f"u{n % 5}",
            "feature": "chat" if n % 2 else None,
        }
        for n in range(start, start + count)
    ]
    return payloads.validate("events", raw, now=now, limits=IngestLimits()).models


WRITERS = 4


def test_overlapping_batches_from_separate_engines_count_once(
    db: Engine, database_url: str
) -> None:
    writers = WRITERS
    engines = [make_engine(database_url) for _ in range(writers)]
    # Writer i sends events [100 i, 100 i + 400): every event is sent by up to 4 writers,
    # in batches that overlap differently, at the same moment.
    batches = [models(100 * i, 400) for i in range(writers)]
    barrier = threading.Barrier(writers)
    accepted: list[int] = []

    def write(i: int) -> None:
        barrier.wait()
        for chunk in range(0, 400, 100):
            result = ingest.store(
                engines[i], "events", batches[i][chunk : chunk + 100], now=datetime.now(UTC)
            )
            accepted.append(result["accepted"])

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for engine in engines:
        engine.dispose()

    distinct = 100 * (writers - 1) + 400
    assert sum(accepted) == distinct
    stored = counts(db)
    assert stored["events"] == stored["daily_events"] == distinct
    assert stored["daily_quantity"] == sum(float(n % 7) for n in range(distinct))
