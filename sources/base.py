"""The interface every vendor source keeps, and the helpers they share."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import orjson
from pydantic import BaseModel

from core.settings import Settings
from handlers.api.auth import Authenticator, Caller
from handlers.api.errors import ItemError, RejectedPayload
from handlers.api.schemas import Kind

MISSING: Any = object()
_NOT_IN_METRIC = re.compile(r"[^a-z0-9_.:/-]+")


@dataclass(frozen=True)
class Context:
    """What a source may check a request against: the settings, the /v1/* authenticator,
    and the request's method and URL as the sender addressed it (HubSpot signs them)."""

    settings: Settings
    auth: Authenticator
    method: str = "POST"
    url: str = ""


@dataclass(frozen=True)
class Record:
    """One of Steward's records (an event, account, ...) mapped from one vendor item.

    ``values`` are checked by :func:`handlers.api.payloads.validate` like a /v1/* item;
    ``paths`` name, for each of Steward's fields, where it came from in the vendor's item,
    so that an error points at the vendor's field.
    """

    kind: Kind
    values: dict[str, Any]
    index: int
    paths: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookup:
    """An event whose account is the account a user was grouped into by an earlier delivery."""

    record: int  # position in Mapped.records
    user: str
    missing: str  # what the item lacked, named in the 422 when no group is known either


@dataclass
class Mapped:
    """What a payload maps to: records, user -> account groups to remember, and lookups."""

    records: list[Record] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)
    lookups: list[Lookup] = field(default_factory=list)
    placeholders: set[str] = field(default_factory=set)  # accounts named only by an id
    ended: dict[str, date] = field(default_factory=dict)  # account -> a contract ended that day
    # account -> {field: (value, the vendor's path)}: single CRM fields changed (a HubSpot
    # property change), validated as /v1/accounts fields and set without touching the rest
    account_fields: dict[str, dict[str, tuple[Any, str]]] = field(default_factory=dict)
    received: int = 0
    ignored: int = 0  # items of a kind Steward has no use for (e.g. Segment's alias)


class Source(Protocol):
    """A vendor source: verify its signature, map its payload."""

    @property
    def name(self) -> str: ...

    def verify(self, headers: Mapping[str, str], body: bytes, ctx: Context) -> Caller:
        """Return the caller, or raise handlers.api.auth.Unauthorized saying why."""
        ...

    def map(self, payload: Any, mapping: BaseModel, headers: Mapping[str, str]) -> Mapped:
        """Map a parsed payload, or raise RejectedPayload (422) naming the missing path."""
        ...


def base64_hmac_sha256_matches(secret: str, signed: bytes, signature: str) -> bool:
    """Whether ``signature`` is the base64 HMAC-SHA256 of ``signed`` keyed with ``secret``
    (Zendesk's and HubSpot's scheme), compared in constant time."""
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), signature.strip())


def load_json(body: bytes) -> Any:
    """The parsed body, or a 400 saying why it is not JSON."""
    if not body.strip():
        raise RejectedPayload(400, "empty body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RejectedPayload(400, f"body is not valid JSON: {exc}") from None


def get_path(item: Any, path: str) -> Any:
    """The value at a dotted path ("properties.quantity"), or MISSING (null counts as missing)."""
    node = item
    for part in path.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return MISSING
        node = node[part]
    return node


def unmappable(index: int, path: str, reason: str, what: str) -> RejectedPayload:
    """The 422 for an item that cannot be mapped: nothing is stored, the path is named."""
    return RejectedPayload(
        422,
        f"{what} at index {index} cannot be mapped: {path} {reason}; nothing was stored",
        [ItemError(index, path, reason)],
    )


def metric_name(text: str) -> str:
    """A vendor's event name as a Steward metric: "Order Completed" -> "order_completed"."""
    return _NOT_IN_METRIC.sub("_", text.strip().lower()).strip("_")


def quantity_at(item: Any, path: str, index: int, what: str) -> float:
    """The number at a path (a numeric string too), 1 when the path is absent."""
    value = get_path(item, path)
    if value is MISSING:
        return 1.0
    if isinstance(value, bool):
        raise unmappable(index, path, "must be a number", what)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise unmappable(index, path, "must be a number", what)


def text_at(item: Any, path: str) -> str | None:
    """The value at a path as text (numbers too), or None when absent or empty."""
    value = get_path(item, path)
    if value is MISSING or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None
