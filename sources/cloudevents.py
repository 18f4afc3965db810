"""CloudEvents 1.0 in JSON, one event (structured mode) or a batch, in OpenMeter's shape.

``application/cloudevents+json`` carries one event, ``application/cloudevents-batch+json``
a list; plain ``application/json`` may carry either. Authenticated as /v1/* (Standard
Webhooks or bearer). ``id`` + ``source`` identify an event, as OpenMeter dedupes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from core.settings import CloudEventsMapping
from handlers.api.auth import Caller
from handlers.api.errors import RejectedPayload
from sources.base import Context, Mapped, Record, metric_name, quantity_at, text_at, unmappable

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
REQUIRED = ("id", "source", "type", "time")


@dataclass(frozen=True)
class CloudEvents:
    name: str = "cloudevents"

    def verify(self, headers: Mapping[str, str], body: bytes, ctx: Context) -> Caller:
        return ctx.auth.authenticate(headers, body)

    def map(self, payload: Any, mapping: BaseModel, headers: Mapping[str, str]) -> Mapped:
        assert isinstance(mapping, CloudEventsMapping)
        items = _events(payload, _content_type(headers))
        mapped = Mapped(received=len(items))
        for index, item in enumerate(items):
            mapped.records.append(_map_event(index, item, mapping))
        return mapped


def _content_type(headers: Mapping[str, str]) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get("content-type", "").split(";")[0].strip().lower()


def _events(payload: Any, content_type: str) -> list[Any]:
    if content_type == BATCH and not isinstance(payload, list):
        raise RejectedPayload(400, f"{BATCH} must be a JSON array of events")
    if content_type == SINGLE and not isinstance(payload, dict):
        raise RejectedPayload(400, f"{SINGLE} must be one event (a JSON object)")
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        return [payload]
    raise RejectedPayload(400, "body must be a CloudEvent or a JSON array of them")


def _map_event(index: int, item: Any, mapping: CloudEventsMapping) -> Record:
    what = "event"
    if not isinstance(item, dict):
        raise unmappable(index, "specversion", "is missing (an event is a JSON object)", what)
    if item.get("specversion") != "1.0":
        raise unmappable(index, "specversion", 'must be "1.0"', what)
    found = {name: text_at(item, name) for name in REQUIRED}
    for name, value in found.items():
        if value is None:
            raise unmappable(index, name, "is missing", what)
    account = text_at(item, mapping.account)
    if account is None:
        raise unmappable(index, mapping.account, "is missing (it names the account)", what)
    values: dict[str, Any] = {
        "id": f"{found['source']}#{found['id']}",
        "account": account,
        "metric": metric_name(str(found["type"])),
        "timestamp": item["time"],
        "quantity": quantity_at(item, mapping.quantity, index, what),
    }
    for field, path in (("user", mapping.user), ("feature", mapping.feature)):
        if path and text_at(item, path):
            values[field] = text_at(item, path)
    paths = {
        "id": "id",
        "account": mapping.account,
        "metric": "type",
        "timestamp": "time",
        "quantity": mapping.quantity,
        "user": mapping.user or "user",
        "feature": mapping.feature or "feature",
    }
    return Record("events", values, index, paths)


SOURCE = CloudEvents()
