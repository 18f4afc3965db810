"""Ingestion: parse and validate what a sender sent, then store it atomically and exactly once.

The webhook endpoints and ``steward import`` share this module, so both apply the
same validation and the same idempotency.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import Connection, Engine

from core.settings import IngestLimits
from handlers.api.errors import ItemError, RejectedPayload
from handlers.api.schemas import MODELS, AccountIn, ContractIn, EventIn, Kind, TicketIn
from storage import alert_states, repository
from storage.bulk import EventRow
from storage.db import TransientConflict, write_transaction

log = logging.getLogger(__name__)

STORE_ATTEMPTS = 3
_ADAPTERS = {kind: TypeAdapter(list[model]) for kind, model in MODELS.items()}  # type: ignore[valid-type]
_FIELD_TO_COLUMN = {"account": "account_id", "user": "user_id", "timestamp": "ts"}


@dataclass(frozen=True)
class Delivery:
    """A sender's delivery key (webhook-id or Idempotency-Key) and the body it came with."""

    id: str
    body_sha256: str


@dataclass
class Validated:
    """The valid items of a payload as (index, model) in order, and the errors of the others."""

    items: list[tuple[int, Any]] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)

    @property
    def models(self) -> list[Any]:
        return [model for _, model in self.items]


def parse_payload(body: bytes, kind: Kind, limits: IngestLimits) -> list[Any]:
    """Turn a request body into the list of items it carries, or raise RejectedPayload."""
    if not body.strip():
        raise RejectedPayload(400, f'empty body: send one object or {{"{kind}": [...]}}')
    data = _loads(body)
    if isinstance(data, dict) and kind in data:
        extra = sorted(set(data) - {kind})
        if extra:
            raise RejectedPayload(
                400, f'unexpected top-level key(s) {extra}: a batch is {{"{kind}": [...]}}'
            )
        data = data[kind]
        if not isinstance(data, list):
            raise RejectedPayload(400, f'"{kind}" must be a list')
    elif not isinstance(data, dict | list):
        raise RejectedPayload(400, f'body must be a JSON object: one item, or {{"{kind}": [...]}}')
    items = data if isinstance(data, list) else [data]
    if len(items) > limits.max_items:
        raise RejectedPayload(
            413, f"{len(items)} items in one request; at most {limits.max_items} are accepted"
        )
    return items


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        strict_error = str(exc)
    try:
        # NaN and Infinity are not JSON, but some senders emit them: parse them so that
        # the validation can name the item and field instead of refusing the whole body.
        return json.loads(body, parse_constant=float)
    except (ValueError, RecursionError):
        raise RejectedPayload(400, f"body is not valid JSON: {strict_error}") from None


def validate(
    kind: Kind, raw_items: Sequence[Any], *, now: datetime, limits: IngestLimits
) -> Validated:
    """Validate every item; return the valid models and an error for each invalid one."""
    adapter = _ADAPTERS[kind]
    try:
        models = adapter.validate_python(raw_items)
        result = Validated(items=list(enumerate(models)))
    except ValidationError as exc:
        result = _partial(kind, raw_items, exc)
    _check_clock(result, now=now, limits=limits)
    result.errors.sort(key=lambda e: e.index)
    return result


def _partial(kind: Kind, raw_items: Sequence[Any], exc: ValidationError) -> Validated:
    errors = [_item_error(err) for err in exc.errors(include_url=False, include_input=False)]
    bad = {e.index for e in errors}
    good = [i for i in range(len(raw_items)) if i not in bad]
    models = _ADAPTERS[kind].validate_python([raw_items[i] for i in good])
    return Validated(items=list(zip(good, models, strict=True)), errors=errors)


def _item_error(err: Mapping[str, Any]) -> ItemError:
    loc = err["loc"]
    path = ".".join(str(part) for part in loc[1:]) or None
    reason = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "model_type":
        reason = "must be a JSON object"
    return ItemError(index=int(loc[0]), field=path, reason=reason)


def _check_clock(result: Validated, *, now: datetime, limits: IngestLimits) -> None:
    """Refuse times further in the future than the tolerance: a sender's clock is wrong."""
    latest = now + timedelta(seconds=limits.future_tolerance_seconds)
    kept = []
    for index, model in result.items:
        moment = _latest_time(model)
        if moment <= latest:
            kept.append((index, model))
            continue
        ahead = int((moment - now).total_seconds())
        name = "timestamp" if isinstance(model, EventIn) else "opened_at/solved_at"
        result.errors.append(
            ItemError(
                index,
                name,
                f"is {ahead} s in the future; at most {limits.future_tolerance_seconds} s "
                "is allowed (check the sender's clock)",
            )
        )
    result.items = kept


def _latest_time(model: Any) -> datetime:
    if isinstance(model, EventIn):
        return model.timestamp
    if isinstance(model, TicketIn):
        return max(model.opened_at, model.solved_at or model.opened_at)
    return datetime.min.replace(tzinfo=UTC)


def store(
    engine: Engine,
    kind: Kind,
    models: Sequence[Any],
    *,
    now: datetime,
    delivery: Delivery | None = None,
) -> dict[str, Any]:
    """Store validated models in one transaction and return what was counted.

    A delivery seen before with the same body gets its first answer again (with
    ``duplicate_delivery``) and changes nothing; with another body it is refused (409).
    """
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            with write_transaction(engine) as conn:
                return _store(conn, kind, models, now=now, delivery=delivery)
        except TransientConflict:
            if attempt == STORE_ATTEMPTS:
                raise
            log.warning("write conflict storing %s (attempt %d); retrying", kind, attempt)
    raise AssertionError("unreachable")


def _store(
    conn: Connection,
    kind: Kind,
    models: Sequence[Any],
    *,
    now: datetime,
    delivery: Delivery | None,
) -> dict[str, Any]:
    if delivery is not None:
        prior = repository.claim_delivery(
            conn, endpoint=kind, delivery_id=delivery.id, body_sha256=delivery.body_sha256, now=now
        )
        if prior is not None:
            if prior.body_sha256 != delivery.body_sha256:
                raise RejectedPayload(
                    409,
                    f"delivery id {delivery.id!r} was already used for a different body; "
                    "a new message needs a new id",
                )
            return {**prior.result, "duplicate_delivery": True}
    result = _write(conn, kind, models, now=now)
    if delivery is not None:
        repository.finish_delivery(conn, endpoint=kind, delivery_id=delivery.id, result=result)
    return result


def _write(conn: Connection, kind: Kind, models: Sequence[Any], *, now: datetime) -> dict[str, Any]:
    if kind == "events":
        rows = event_rows(models)
        new = repository.insert_events(conn, rows, now=now)
        if new:  # alerts look again at these accounts within a minute
            alert_states.mark_changed(conn, {r.account_id for r in rows}, now=now)
        return {"received": len(models), "accepted": new, "duplicates": len(models) - new}
    latest: dict[str, repository.Row] = {}
    for model in models:
        latest[model.id] = _upsert_row(model)  # within one batch, the last version wins
    owners = {r.values["id" if kind == "accounts" else "account_id"] for r in latest.values()}
    if kind != "accounts":
        repository.ensure_accounts(conn, owners, now=now)
    repository.upsert(conn, repository.UPSERT_TABLES[kind], list(latest.values()), now=now)
    alert_states.mark_changed(conn, owners, now=now)
    return {
        "received": len(models),
        "accepted": len(latest),
        "duplicates": len(models) - len(latest),
    }


def event_rows(models: Sequence[EventIn]) -> list[EventRow]:
    """Map events to usage_events rows, keeping the first of any ids repeated in the batch."""
    rows: dict[str, EventRow] = {}
    for e in models:
        if e.id not in rows:
            rows[e.id] = EventRow(
                e.id,
                e.account,
                e.metric,
                e.timestamp,
                e.quantity,
                e.user,
                e.feature,
                e.team,
                e.success,
                e.properties,
            )
    return list(rows.values())


def _upsert_row(model: AccountIn | ContractIn | TicketIn) -> repository.Row:
    values = {_FIELD_TO_COLUMN.get(k, k): v for k, v in model.model_dump().items()}
    given = frozenset(_FIELD_TO_COLUMN.get(k, k) for k in model.model_fields_set)
    return repository.Row(values=values, given=given)
