"""Ingestion: store what a sender sent, atomically and exactly once.

The webhook endpoints, the vendor sources and ``steward import`` share this pipeline (validation in
:mod:`handlers.api.payloads`, then :func:`store`), so both apply the same rules and
the same idempotency.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine

from core.settings import IngestLimits
from handlers.api.errors import ItemError, RejectedPayload
from handlers.api.payloads import parse_payload, validate
from handlers.api.schemas import AccountIn, ContractIn, EventIn, Kind, TicketIn
from services import usage
from sources.base import Mapped, Record
from storage import alert_states, repository, segment_groups
from storage.bulk import EventRow
from storage.db import TransientConflict, write_transaction

log = logging.getLogger(__name__)

STORE_ATTEMPTS = 3
MAX_ERRORS_LISTED = 100  # a 422 lists this many errors at most, and says how many there were
_FIELD_TO_COLUMN = {"account": "account_id", "user": "user_id", "timestamp": "ts"}


@dataclass(frozen=True)
class Delivery:
    """A sender's delivery key (webhook-id or Idempotency-Key) and the body it came with."""

    id: str
    body_sha256: str


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
    return _retried(
        engine, kind, lambda conn: _store(conn, kind, models, now=now, delivery=delivery)
    )


def _retried(
    engine: Engine, what: str, store: Callable[[Connection], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``store`` in a write transaction, again (up to STORE_ATTEMPTS) on a write
    conflict another writer caused; each attempt sees the committed state afresh."""
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            with write_transaction(engine) as conn:
                return store(conn)
        except TransientConflict:
            if attempt == STORE_ATTEMPTS:
                raise
            log.warning("write conflict storing %s (attempt %d); retrying", what, attempt)
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
    if kind == "usage":
        return usage.write(conn, models, now=now)
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


def ingest_body(
    engine: Engine,
    kind: Kind,
    body: bytes,
    *,
    limits: IngestLimits,
    now: datetime,
    delivery_id: str | None = None,
) -> dict[str, Any]:
    """Parse, validate and store one request's body; what was counted.

    Raises:
        RejectedPayload: the body is not JSON of this kind (400), some item is invalid
            (422, nothing stored, every bad item listed), or the delivery id was used
            for another body (409).
    """
    raw = parse_payload(body, kind, limits)
    validated = validate(kind, raw, now=now, limits=limits)
    if validated.errors:
        bad = len({e.index for e in validated.errors})
        shown = validated.errors[:MAX_ERRORS_LISTED]
        more = len(validated.errors) - len(shown)
        listed = f"; the first {len(shown)} of {len(validated.errors):,} errors are listed"
        raise RejectedPayload(
            422,
            f"{bad} of {len(raw)} {kind} invalid; nothing was stored" + (listed if more else ""),
            shown,
        )
    delivery = None
    if delivery_id is not None:
        delivery = Delivery(delivery_id, hashlib.sha256(body).hexdigest())
    result = store(engine, kind, validated.models, now=now, delivery=delivery)
    log.debug("ingested %s: %s", kind, result)
    return result


KINDS_IN_ORDER: tuple[Kind, ...] = ("accounts", "contracts", "events", "tickets")


def ingest_source(
    engine: Engine,
    source: str,
    mapped: Mapped,
    *,
    body: bytes,
    limits: IngestLimits,
    now: datetime,
    delivery_id: str | None = None,
) -> dict[str, Any]:
    """Validate and store what a vendor source mapped, in one transaction, exactly once.

    Events whose account is a user's group are resolved in that transaction; a record
    that is invalid or cannot be given an account refuses the whole payload (422, with
    the vendor's index and path), and nothing is stored.
    """
    if len(mapped.records) > limits.max_items:
        raise RejectedPayload(
            413, f"{len(mapped.records)} items in one request; at most {limits.max_items}"
        )
    endpoint = f"sources/{source}"
    delivery = None
    if delivery_id is not None:
        delivery = Delivery(delivery_id, hashlib.sha256(body).hexdigest())
    result = _retried(
        engine,
        endpoint,
        lambda conn: _store_source(
            conn, endpoint, mapped, now=now, limits=limits, delivery=delivery
        ),
    )
    log.debug("ingested %s: %s", endpoint, result)
    return result


def _store_source(
    conn: Connection,
    endpoint: str,
    mapped: Mapped,
    *,
    now: datetime,
    limits: IngestLimits,
    delivery: Delivery | None,
) -> dict[str, Any]:
    if delivery is not None:
        prior = repository.claim_delivery(
            conn,
            endpoint=endpoint,
            delivery_id=delivery.id,
            body_sha256=delivery.body_sha256,
            now=now,
        )
        if prior is not None:
            if prior.body_sha256 != delivery.body_sha256:
                raise RejectedPayload(
                    409,
                    f"delivery id {delivery.id!r} was already used for a different body; "
                    "a new message needs a new id",
                )
            return {**prior.result, "duplicate_delivery": True}
    records = _resolve_accounts(conn, mapped)
    by_kind = _validate_records(records, now=now, limits=limits)
    changed = _validate_account_fields(mapped)
    if mapped.placeholders or changed:
        repository.ensure_accounts(conn, sorted({*mapped.placeholders, *changed}), now=now)
    result: dict[str, Any] = {"received": mapped.received, "ignored": mapped.ignored}
    for kind in KINDS_IN_ORDER:
        if by_kind.get(kind):
            result[kind] = _write(conn, kind, by_kind[kind], now=now)
    for account, fields in sorted(changed.items()):
        repository.set_account_fields(conn, account, fields, now=now)
    if changed:
        result["account_fields"] = sum(len(f) for f in changed.values())
    if mapped.groups:
        repository.ensure_accounts(conn, sorted(set(mapped.groups.values())), now=now)
        segment_groups.remember(conn, mapped.groups, now=now)
    if mapped.ended:  # a cancellation: churn, unless another contract runs on
        result["churned"] = repository.mark_churned(conn, mapped.ended)
    if delivery is not None:
        repository.finish_delivery(conn, endpoint=endpoint, delivery_id=delivery.id, result=result)
    return result


def _validate_account_fields(mapped: Mapped) -> dict[str, dict[str, Any]]:
    """Single account fields a source changed, checked as /v1/accounts checks them (422
    naming the vendor's path when one is wrong)."""
    out: dict[str, dict[str, Any]] = {}
    errors: list[ItemError] = []
    for account, fields in mapped.account_fields.items():
        raw = {name: value for name, (value, _) in fields.items()}
        try:
            valid = AccountIn.model_validate({"id": account, "name": account, **raw})
        except ValidationError as exc:
            for problem in exc.errors():
                name = str(problem["loc"][0]) if problem["loc"] else "id"
                path = fields[name][1] if name in fields else name
                errors.append(ItemError(0, path, problem["msg"]))
            continue
        out[account] = valid.model_dump(include=set(raw))
    if errors:
        raise RejectedPayload(
            422, f"{len(errors)} account field(s) invalid; nothing was stored", errors
        )
    return out


def _resolve_accounts(conn: Connection, mapped: Mapped) -> list[Record]:
    """Give each event waiting on a user's group that group's account, or refuse (422)."""
    records = list(mapped.records)
    if not mapped.lookups:
        return records
    known = segment_groups.accounts_of(conn, {lookup.user for lookup in mapped.lookups})
    for lookup in mapped.lookups:
        record = records[lookup.record]
        account = known.get(lookup.user)
        if account is None and "account" in record.values:
            continue  # the configured property
        if account is None:
            raise RejectedPayload(
                422,
                f"call at index {record.index} cannot be mapped: context.groupId "
                f"{lookup.missing}; nothing was stored",
                [ItemError(record.index, "context.groupId", lookup.missing)],
            )
        record.values["account"] = account
    return records


def _validate_records(
    records: Sequence[Record], *, now: datetime, limits: IngestLimits
) -> dict[Kind, list[Any]]:
    """Validate each kind as /v1/* does; errors name the vendor's index and path."""
    by_kind: dict[Kind, list[Any]] = {}
    errors: list[ItemError] = []
    for kind in KINDS_IN_ORDER:
        mine = [r for r in records if r.kind == kind]
        if not mine:
            continue
        validated = validate(kind, [r.values for r in mine], now=now, limits=limits)
        by_kind[kind] = validated.models
        for e in validated.errors:
            record = mine[e.index]
            path = record.paths.get(e.field or "", e.field)
            errors.append(ItemError(record.index, path, e.reason))
    if errors:
        errors.sort(key=lambda e: e.index)
        shown = errors[:MAX_ERRORS_LISTED]
        bad = len({e.index for e in errors})
        raise RejectedPayload(422, f"{bad} item(s) invalid; nothing was stored", shown)
    return by_kind
