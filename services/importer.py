"""`steward import`: backfill JSON Lines or CSV files through the same validation and idempotency
as the webhooks. Valid rows are stored in chunks; invalid rows are reported with their line."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy.engine import Engine

from core.settings import IngestLimits
from handlers.api import payloads
from handlers.api.schemas import Kind
from services import ingest

CHUNK_ROWS = 2000
FLOAT_COLUMNS = {"quantity", "arr", "committed_amount", "monthly_budget"}
INT_COLUMNS = {"csat"}
BOOL_COLUMNS = {"success"}
JSON_COLUMNS = {"properties", "unit_prices"}
TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True)
class Rejected:
    """A row that was not stored: its line in the file, the field and the reason."""

    line: int
    field: str | None
    reason: str


@dataclass
class ImportSummary:
    """What an import did."""

    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)


class CellError(ValueError):
    """A CSV cell that cannot be read as its column's type."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column


def detect_format(path: Path, declared: str | None) -> str:
    """Return 'jsonl' or 'csv', from --format or the file's extension."""
    if declared:
        return declared
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".csv", ".tsv"}:
        return "csv"
    raise ValueError(f"cannot tell the format of {path.name}: use --format jsonl or --format csv")


def import_file(
    engine: Engine,
    path: Path,
    kind: Kind,
    *,
    file_format: str,
    limits: IngestLimits,
    now: Callable[[], datetime],
    progress: Callable[[int], None] = lambda _: None,
) -> ImportSummary:
    """Import every row of the file; call `progress` with the bytes read so far."""
    summary = ImportSummary()
    with path.open("rb") as raw:
        reader = _jsonl_rows if file_format == "jsonl" else _csv_rows
        for chunk in _chunks(reader(raw)):
            _import_chunk(engine, kind, chunk, summary, limits=limits, now=now())
            progress(raw.tell())
    return summary


Parsed = tuple[int, Any]  # (line number, item or CellError/ValueError)


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
    chunk: list[Parsed],
    summary: ImportSummary,
    *,
    limits: IngestLimits,
    now: datetime,
) -> None:
    summary.rows += len(chunk)
    lines = []
    items = []
    for line, item in chunk:
        if isinstance(item, CellError):
            summary.rejected.append(Rejected(line, item.column, str(item)))
        elif isinstance(item, ValueError):
            summary.rejected.append(Rejected(line, None, str(item)))
        else:
            lines.append(line)
            items.append(item)
    validated = payloads.validate(kind, items, now=now, limits=limits)
    summary.rejected.extend(Rejected(lines[e.index], e.field, e.reason) for e in validated.errors)
    if validated.items:
        result = ingest.store(engine, kind, validated.models, now=now)
        summary.accepted += result["accepted"]
        summary.duplicates += result["duplicates"]


def _jsonl_rows(raw: IO[bytes]) -> Iterator[Parsed]:
    for number, line in enumerate(raw, start=1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, ValueError(f"not valid JSON: {exc}")


def _csv_rows(raw: IO[bytes]) -> Iterator[Parsed]:
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    sample = text.readline()
    dialect = csv.excel_tab if "\t" in sample and "," not in sample else csv.excel
    reader = csv.DictReader(_prepend(sample, text), dialect=dialect)
    try:
        for row in reader:
            try:
                yield reader.line_num, _typed(row)
            except CellError as exc:
                yield reader.line_num, exc
    finally:
        text.detach()  # leave the binary file open for its owner


def _prepend(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def _typed(row: dict[str | Any, str | Any]) -> dict[str, Any]:
    """Convert a CSV row's text cells to the JSON types the schemas expect; drop empty cells."""
    if None in row:
        raise CellError("(row)", "more cells than the header has columns")
    typed: dict[str, Any] = {}
    for column, cell in row.items():
        if cell is None or cell.strip() == "":
            continue
        typed[column] = _cell(column, cell.strip())
    return typed


def _cell(column: str, cell: str) -> Any:
    try:
        if column in FLOAT_COLUMNS:
            return float(cell)
        if column in INT_COLUMNS:
            return int(cell)
    except ValueError:
        raise CellError(column, f"{cell!r} is not a number") from None
    if column in BOOL_COLUMNS:
        if cell.lower() in TRUE:
            return True
        if cell.lower() in FALSE:
            return False
        raise CellError(column, f"{cell!r} is not true/false")
    if column in JSON_COLUMNS:
        try:
            return orjson.loads(cell)
        except orjson.JSONDecodeError:
            raise CellError(column, "must be a JSON object") from None
    return cell
