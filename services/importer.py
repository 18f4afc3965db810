"""`steward import`: backfill JSON Lines, CSV, TSV or XLSX files through the same validation and
idempotency as the webhooks, with a column mapping. Valid rows are stored in chunks; every
error of an invalid row is reported with its line, in line order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import Engine

from core.settings import IngestLimits
from handlers.api import payloads
from handlers.api.schemas import MODELS, Kind
from services import ingest
from services.import_files import Parsed, detect_format, open_table

__all__ = [
    "ImportSummary",
    "Rejected",
    "cell_value",
    "detect_format",
    "import_file",
    "parse_map",
]

CHUNK_ROWS = 2000
FLOAT_COLUMNS = {"quantity", "arr", "committed_amount", "monthly_budget"}
INT_COLUMNS = {"csat", "events", "users"}
BOOL_COLUMNS = {"success"}
JSON_COLUMNS = {"properties", "unit_prices"}
DAY_COLUMNS = {
    "day",
    "start_date",
    "end_date",
    "customer_since",
    "go_live_date",
    "renewal_date",
    "churned_date",
}
TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True)
class Rejected:
    """One error of a row that was not stored: its line in the file, the field and the reason."""

    line: int
    field: str | None
    reason: str


@dataclass
class ImportSummary:
    """What an import did (or, in a dry run, would do)."""

    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({r.line for r in self.rejected})


class MappingError(ValueError):
    """A column mapping that cannot apply to this kind or this file."""


def parse_map(text: str | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Read ``field=column,field=column`` on top of a mapping from the config file."""
    mapping = dict(base or {})
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, column = part.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise MappingError(f"--map takes field=column pairs separated by commas, not {part!r}")
        mapping[name.strip()] = column.strip()
    return mapping


def check_map(kind: Kind, mapping: Mapping[str, str], header: list[str] | None) -> None:
    """Refuse a mapping to fields the kind does not have, or from columns the file lacks."""
    fields = list(MODELS[kind].model_fields)
    for name, column in mapping.items():
        if name not in fields:
            raise MappingError(f"{name!r} is not a field of {kind} (fields: {', '.join(fields)})")
        if header is not None and column not in header:
            raise MappingError(
                f"column {column!r} (mapped to {name}) is not in the file; "
                f"its columns are: {', '.join(h for h in header if h)}"
            )


def import_file(
    engine: Engine,
    path: Path,
    kind: Kind,
    *,
    file_format: str,
    limits: IngestLimits,
    now: Callable[[], datetime],
    mapping: Mapping[str, str] | None = None,
    dry_run: bool = False,
    progress: Callable[[float], None] = lambda _: None,
) -> ImportSummary:
    """Import every row of the file; call `progress` with the share of the file read (0-1).

    Raises:
        MappingError: the mapping names a field the kind lacks or a column the file lacks.
    """
    mapping = dict(mapping or {})
    summary = ImportSummary()
    with open_table(path, file_format) as table:
        check_map(kind, mapping, table.header)
        for chunk in _chunks(table.rows):
            rows = [_prepare(line, item, mapping, table.typed_cells) for line, item in chunk]
            _import_chunk(engine, kind, rows, summary, limits=limits, now=now(), dry_run=dry_run)
            progress(table.done())
    return summary


@dataclass
class _Row:
    line: int
    item: dict[str, Any] | None  # None: the row could not be read at all
    errors: list[Rejected]


def _prepare(line: int, item: Any, mapping: Mapping[str, str], typed: bool) -> _Row:
    if isinstance(item, ValueError):
        return _Row(line, None, [Rejected(line, None, str(item))])
    mapped = _mapped(item, mapping)
    if typed:
        return _Row(line, mapped, [])
    cells: dict[str, Any] = {}
    errors = []
    for column, value in mapped.items():
        try:
            converted = cell_value(column, value)
        except ValueError as exc:
            errors.append(Rejected(line, column, str(exc)))
            continue
        if converted is not None:
            cells[column] = converted
    return _Row(line, cells, errors)


def _mapped(item: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    if not mapping:
        return item
    sources = set(mapping.values())
    out = {k: v for k, v in item.items() if k not in sources}
    out.update({name: item.get(column) for name, column in mapping.items()})
    return out


def _chunks(rows: Iterator[Parsed]) -> Iterator[list[Parsed]]:
    chunk: list[Parsed] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _import_chunk(
    engine: Engine,
    kind: Kind,
    rows: list[_Row],
    summary: ImportSummary,
    *,
    limits: IngestLimits,
    now: datetime,
    dry_run: bool,
) -> None:
    summary.rows += len(rows)
    readable = [r for r in rows if r.item is not None]
    validated = payloads.validate(kind, [r.item for r in readable], now=now, limits=limits)
    for e in validated.errors:
        row = readable[e.index]
        if not any(c.field == e.field for c in row.errors):  # a cell already explained
            row.errors.append(Rejected(row.line, e.field, e.reason))
    summary.rejected.extend(e for r in rows for e in r.errors)  # rows are in line order
    models = [m for i, m in validated.items if not readable[i].errors]
    if not models:
        return
    if dry_run:
        summary.accepted += len(models)
        return
    result = ingest.store(engine, kind, models, now=now)
    summary.accepted += result["accepted"]
    summary.duplicates += result["duplicates"]


def cell_value(column: str, value: Any) -> Any:
    """A CSV/TSV text cell, an XLSX cell or a database value as the JSON type its field
    expects; None if empty.

    Raises:
        ValueError: the value cannot be read as its field's type (the message says why).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dict | list):  # a JSON column read from a database
        return value
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, datetime | date):
        return _moment(column, value)
    if isinstance(value, bool):
        return value if column in BOOL_COLUMNS else str(value).lower()
    if isinstance(value, int | float):
        return _number(column, value)
    text = str(value).strip()
    if column in FLOAT_COLUMNS | INT_COLUMNS:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        return _number(column, number)
    if column in BOOL_COLUMNS:
        if text.lower() in TRUE | FALSE:
            return text.lower() in TRUE
        raise ValueError(f"{text!r} is not true/false")
    if column in JSON_COLUMNS:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ValueError("must be a JSON object") from None
    return text


def _number(column: str, value: float) -> Any:
    if column in FLOAT_COLUMNS:
        return float(value)
    if column in INT_COLUMNS:
        if float(value).is_integer():
            return int(value)
        raise ValueError(f"{value!r} is not a whole number")
    return str(int(value)) if float(value).is_integer() else str(value)  # an id typed as a number


def _moment(column: str, value: date) -> str:
    """A spreadsheet date as ISO 8601; a time without an offset is taken as UTC."""
    if column in DAY_COLUMNS:
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
