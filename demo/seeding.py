"""Send a generated book through the real ingestion path (validation, idempotency, rollups)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from core.settings import IngestLimits
from demo.book import Book, book_payload_batches
from handlers.api.payloads import validate
from services.ingest import store


class BookRejected(Exception):
    """A generated item failed validation: a bug in the generator, never data to skip."""


def send_book(
    engine: Engine,
    book: Book,
    *,
    now: datetime,
    limits: IngestLimits,
    progress: Callable[[str, Sequence[Mapping[str, Any]]], None] | None = None,
    batch_size: int = 2000,
) -> Counter[str]:
    """Validate and store every account, contract, ticket and event; return what was accepted.

    ``progress`` hears each stored batch (its kind and items: how many, and how far in
    time the events have come).
    """
    accepted: Counter[str] = Counter()
    for kind, items in book_payload_batches(book, batch_size=batch_size):
        checked = validate(kind, items, now=now, limits=limits)
        if checked.errors:
            first = checked.errors[0]
            raise BookRejected(f"{kind}[{first.index}] {first.field}: {first.reason}")
        result = store(engine, kind, [model for _, model in checked.items], now=now)
        accepted[kind] += int(result.get("accepted", len(items)))
        if progress is not None:
            progress(kind, items)
    return accepted
