"""Segment: track, identify, group, page and screen calls, one at a time or in a batch.

Verified by ``X-Signature`` (hex HMAC-SHA1 of the raw body with STEWARD_SEGMENT_SECRET,
as Segment's Webhooks destination signs), or as /v1/* (bearer or Standard Webhooks).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from core.settings import SegmentMapping
from handlers.api.auth import Caller, Unauthorized
from handlers.api.errors import RejectedPayload
from sources.base import (
    MISSING,
    Context,
    Lookup,
    Mapped,
    Record,
    get_path,
    metric_name,
    quantity_at,
    text_at,
    unmappable,
)

TIME_FIELDS = ("timestamp", "originalTimestamp", "receivedAt", "sentAt")
EVENT_CALLS = frozenset({"track", "page", "screen"})
IGNORED_CALLS = frozenset({"alias"})


@dataclass(frozen=True)
class Segment:
    name: str = "segment"

    def verify(self, headers: Mapping[str, str], body: bytes, ctx: Context) -> Caller:
        lowered = {k.lower(): v for k, v in headers.items()}
        signature = lowered.get("x-signature")
        if signature is None:
            return ctx.auth.authenticate(headers, body)
        secret = ctx.settings.segment_secret
        if secret is None or not secret.get_secret_value():
            raise Unauthorized("X-Signature sent, but no STEWARD_SEGMENT_SECRET is set")
        expected = hmac.new(secret.get_secret_value().encode(), body, hashlib.sha1).hexdigest()
        if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            raise Unauthorized(
                "X-Signature rejected (wrong STEWARD_SEGMENT_SECRET, or the body changed)"
            )
        return Caller("segment-signature", None)

    def map(self, payload: Any, mapping: BaseModel, headers: Mapping[str, str]) -> Mapped:
        assert isinstance(mapping, SegmentMapping)
        items = _calls(payload)
        mapped = Mapped(received=len(items))
        for index, item in enumerate(items):
            _map_call(mapped, index, item, mapping)
        return mapped


def _calls(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and "batch" in payload:
        batch = payload["batch"]
        if not isinstance(batch, list):
            raise RejectedPayload(400, '"batch" must be a list of calls')
        shared = payload.get("context")
        if isinstance(shared, dict):  # the batch's context applies to every call in it
            return [
                {**c, "context": {**shared, **c["context"]}}
                if isinstance(c, dict) and isinstance(c.get("context"), dict)
                else {**c, "context": shared}
                if isinstance(c, dict) and c.get("context") is None
                else c
                for c in batch
            ]
        return batch
    if isinstance(payload, dict):
        return [payload]
    raise RejectedPayload(400, 'body must be a Segment call or {"batch": [...]}')


def _map_call(mapped: Mapped, index: int, item: Any, mapping: SegmentMapping) -> None:
    if not isinstance(item, dict):
        raise unmappable(index, "type", "is missing (a call must be a JSON object)", "call")
    kind = item.get("type")
    what = f"{kind} call" if isinstance(kind, str) else "call"
    if kind in EVENT_CALLS:
        _map_event(mapped, index, item, mapping, what)
    elif kind == "group":
        _map_group(mapped, index, item, what)
    elif kind == "identify":
        account = text_at(item, "context.groupId") or text_at(item, "traits.company.id")
        user = _user(item)
        if account and user:
            mapped.groups[user] = account
        else:
            mapped.ignored += 1
    elif kind in IGNORED_CALLS:
        mapped.ignored += 1
    else:
        raise unmappable(index, "type", "must be track, identify, group, page or screen", what)


def _map_event(
    mapped: Mapped, index: int, item: dict[str, Any], mapping: SegmentMapping, what: str
) -> None:
    message_id = text_at(item, "messageId")
    if message_id is None:
        raise unmappable(index, "messageId", "is missing", what)
    name_path = "event" if item["type"] == "track" else "name"
    name = text_at(item, name_path)
    if item["type"] == "track" and name is None:
        raise unmappable(index, "event", "is missing", what)
    metric = metric_name(name) if item["type"] == "track" and name else item["type"]
    time_path = next((p for p in TIME_FIELDS if get_path(item, p) is not MISSING), None)
    if time_path is None:
        raise unmappable(index, "timestamp", "is missing", what)
    user = _user(item)
    values: dict[str, Any] = {
        "id": message_id,
        "metric": metric,
        "timestamp": item[time_path],
        "quantity": quantity_at(item, mapping.quantity, index, what),
        "user": user,
    }
    if item["type"] != "track" and name is not None:
        values["feature"] = name
    if mapping.feature and text_at(item, mapping.feature):
        values["feature"] = text_at(item, mapping.feature)
    paths = {
        "id": "messageId",
        "metric": name_path,
        "timestamp": time_path,
        "quantity": mapping.quantity,
        "user": "userId",
        "feature": mapping.feature or "name",
        "account": "context.groupId",
    }
    account = text_at(item, "context.groupId")
    if account is None and user is not None:
        account = mapped.groups.get(user)  # a group call earlier in this batch
    fallback = text_at(item, mapping.account) if mapping.account else None
    record = Record("events", {k: v for k, v in values.items() if v is not None}, index, paths)
    if account is not None:
        record.values["account"] = account
    elif user is not None:  # a group call from an earlier delivery, else the fallback
        if fallback is not None:
            record.values["account"] = fallback
        mapped.lookups.append(Lookup(len(mapped.records), user, _missing_account(mapping)))
    elif fallback is not None:
        record.values["account"] = fallback
    else:
        raise unmappable(index, "context.groupId", _no_account(mapping), what)
    mapped.records.append(record)


def _map_group(mapped: Mapped, index: int, item: dict[str, Any], what: str) -> None:
    account = text_at(item, "groupId")
    if account is None:
        raise unmappable(index, "groupId", "is missing", what)
    user = _user(item)
    if user is not None:
        mapped.groups[user] = account
    traits = item.get("traits") if isinstance(item.get("traits"), dict) else {}
    assert isinstance(traits, dict)
    name = text_at(traits, "name")
    if name is None:  # a membership only: the account keeps its name (or is a placeholder)
        mapped.placeholders.add(account)
        return
    values: dict[str, Any] = {"id": account, "name": name}
    if text_at(traits, "plan"):
        values["segment"] = text_at(traits, "plan")
    if get_path(traits, "arr") is not MISSING:
        values["arr"] = traits["arr"]
    paths = {"id": "groupId", "name": "traits.name", "segment": "traits.plan", "arr": "traits.arr"}
    mapped.records.append(Record("accounts", values, index, paths))


def _user(item: dict[str, Any]) -> str | None:
    return text_at(item, "userId") or text_at(item, "anonymousId")


def _no_account(mapping: SegmentMapping) -> str:
    also = f" nor {mapping.account}" if mapping.account else ""
    return (
        f"is missing{also}, and the call has no userId to find a group call by "
        "(send context.groupId, or set account in [sources.segment])"
    )


def _missing_account(mapping: SegmentMapping) -> str:
    also = f" nor {mapping.account}" if mapping.account else ""
    return (
        f"is missing{also}, and no group call was seen for this user "
        "(send context.groupId, a group call first, or set account in [sources.segment])"
    )


SOURCE = Segment()
