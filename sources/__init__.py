"""Vendor sources: each module verifies one vendor's webhook and maps its payload to records.

A source is one module with a ``SOURCE`` object (see :class:`sources.base.Source`): adding
the next vendor is that file, its line in :data:`SOURCES` and its tests. Storing what a
source mapped is :func:`services.ingest.ingest_source`'s job, with the same exactly-once,
atomic rules as ``/v1/*``.
"""

from __future__ import annotations

from sources import cloudevents, hubspot, segment, stripe, zendesk
from sources.base import Source

SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        segment.SOURCE,
        cloudevents.SOURCE,
        stripe.SOURCE,
        zendesk.SOURCE,
        hubspot.SOURCE,
    )
}

__all__ = ["SOURCES", "Source"]
