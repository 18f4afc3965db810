"""What a sender sent, as validated records: parse the body, check every item, report each error.

Shared by the webhook endpoints, the vendor sources and ``steward import``, so that all
apply the same rules; storing what passed is :mod:`services.ingest`'s job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from core.settings import IngestLimits
from handlers.api.errors import ItemError, RejectedPayload
from handlers.api.schemas import MODELS, EventIn, Kind, TicketIn, UsageIn

_ADAPTERS = {kind: TypeAdapter(list[model]) for kind, model in MODELS.items()}  # type: ignore[valid-type]


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
    errors = [_item_error(err) for err in exc.errors(include_url=False)]
    bad = {e.index for e in errors}
    good = [i for i in range(len(raw_items)) if i not in bad]
    models = _ADAPTERS[kind].validate_python([raw_items[i] for i in good])
    return Validated(items=list(zip(good, models, strict=True)), errors=errors)


_DAY_HINT = "{value} is not a valid date: use YYYY-MM-DD or ISO 8601 (e.g. 2026-12-05)"
_TIME_HINT = (
    "{value} is not a valid date and time: use ISO 8601 with a UTC offset "
    "(e.g. 2026-12-05T14:30:00Z or 2026-12-05T15:30:00+01:00)"
)
_DATE_ERRORS = {
    "date_parsing": _DAY_HINT,
    "date_from_datetime_parsing": _DAY_HINT,
    "date_from_datetime_inexact": _DAY_HINT,
    "datetime_parsing": _TIME_HINT,
    "datetime_from_date_parsing": _TIME_HINT,
    "timezone_aware": "{value} has no UTC offset: add one, as in 2026-12-05T14:30:00Z",
}
_SHOWN_CHARS = 40


def _shown(value: Any) -> str:
    """A sender's value, quoted and cut short, to say which one could not be read."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


_NAMED_FIELD = re.compile(r"^([a-z_]+): (.+)$", re.DOTALL)


def _item_error(err: Mapping[str, Any]) -> ItemError:
    loc = err["loc"]
    path = ".".join(str(part) for part in loc[1:]) or None
    reason = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] in _DATE_ERRORS:
        reason = _DATE_ERRORS[err["type"]].format(value=_shown(err.get("input")))
    named = _NAMED_FIELD.match(reason) if path is None else None
    if named is not None:  # a check across fields that names the field it is about
        path, reason = named.group(1), named.group(2)
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
        name = _TIME_FIELD.get(type(model), "opened_at/solved_at")
        if isinstance(model, UsageIn) and model.hour is None:
            name = "day"
        result.errors.append(
            ItemError(
                index,
                name,
                f"is {ahead} s in the future; at most {limits.future_tolerance_seconds} s "
                "is allowed (check the sender's clock)",
            )
        )
    result.items = kept


_TIME_FIELD: dict[type, str] = {EventIn: "timestamp", UsageIn: "hour"}


def _latest_time(model: Any) -> datetime:
    if isinstance(model, EventIn):
        return model.timestamp
    if isinstance(model, UsageIn):  # a total for a day (or hour) that has not begun yet
        if model.hour is not None:
            return model.hour
        return datetime.combine(model.utc_day, datetime.min.time(), tzinfo=UTC)
    if isinstance(model, TicketIn):
        return max(model.opened_at, model.solved_at or model.opened_at)
    return datetime.min.replace(tzinfo=UTC)
