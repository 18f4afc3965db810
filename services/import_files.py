"""The files `steward import` reads: JSON Lines, CSV, TSV and XLSX, row by row with line numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

FORMATS = ("jsonl", "csv", "tsv", "xlsx")
SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".xlsx": "xlsx",
}
Parsed = tuple[int, Any]  # (line number, a row as a dict, or the ValueError that refused it)


@dataclass
class Table:
    """A file opened for import: its column names (None for JSON Lines) and its rows."""

    header: list[str] | None
    rows: Iterator[Parsed]
    typed_cells: bool  # JSON Lines carry JSON types; CSV/TSV text and XLSX cell values do not
    _position: Any

    def done(self) -> float:
        """How much of the file has been read, from 0 to 1."""
        return float(self._position())


def detect_format(path: Path, declared: str | None) -> str:
    """Return one of FORMATS, from --format or the file's extension."""
    if declared:
        if declared not in FORMATS:
            raise ValueError(f"--format must be one of {', '.join(FORMATS)}")
        return declared
    found = SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ValueError(
            f"cannot tell the format of {path.name}: use --format jsonl, csv, tsv or xlsx"
        )
    return found


@contextmanager
def open_table(path: Path, file_format: str) -> Iterator[Table]:
    """Open a file of the given format for reading row by row."""
    if file_format == "xlsx":
        with _xlsx(path) as table:
            yield table
        return
    with path.open("rb") as raw:
        size = max(path.stat().st_size, 1)
        if file_format == "jsonl":
            yield Table(None, _jsonl_rows(raw), True, lambda: raw.tell() / size)
            return
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            yield _delimited(text, tab=file_format == "tsv", position=lambda: raw.tell() / size)
        finally:
            text.detach()  # leave the binary file to its owner


def _jsonl_rows(raw: IO[bytes]) -> Iterator[Parsed]:
    for number, line in enumerate(raw, start=1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, ValueError(f"not valid JSON: {exc}")
            continue
        yield number, item if isinstance(item, dict) else ValueError("must be a JSON object")


def _delimited(text: IO[str], *, tab: bool, position: Any) -> Table:
    first = text.readline()
    if not tab and "\t" in first and "," not in first:
        tab = True  # a .csv file that is tab-separated
    dialect = csv.excel_tab if tab else csv.excel
    reader = csv.reader(_prepend(first, text), dialect=dialect)
    header = [h.strip() for h in next(reader, [])]

    def rows() -> Iterator[Parsed]:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            yield reader.line_num, _row(header, cells)

    return Table(header, rows(), False, position)


def _prepend(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def _row(header: list[str], cells: Any) -> dict[str, Any] | ValueError:
    values = list(cells)
    if len(values) > len(header) and any(v not in (None, "") for v in values[len(header) :]):
        return ValueError(f"{len(values)} cells but the header has {len(header)} columns")
    return {h: v for h, v in zip(header, values, strict=False) if h}


@contextmanager
def _xlsx(path: Path) -> Iterator[Table]:
    from openpyxl import load_workbook  # loads only for spreadsheets

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.active
        assert sheet is not None
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        total = max(sheet.max_row or 1, 1)
        seen = [1]

        def parsed() -> Iterator[Parsed]:
            for number, cells in enumerate(rows, start=2):
                seen[0] = number
                if any(c not in (None, "") for c in cells):
                    yield number, _row(header, cells)

        yield Table(header, parsed(), False, lambda: min(seen[0] / total, 1.0))
    finally:
        book.close()
