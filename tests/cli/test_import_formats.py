"""`steward import` with real CSV, TSV, JSON Lines and XLSX files, a column mapping (from --map
or steward.toml), every error of a row listed by line, and --dry-run that writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from sqlalchemy.engine import Engine

from core.settings import IngestLimits
from services.importer import import_file
from storage import tables
from tests.cli.test_import import run_import
from tests.support.server import counts


def daily(db: Engine) -> dict[tuple[str, str], tuple[float, int, bool]]:
    u = tables.usage_daily.c
    with db.connect() as conn:
        rows = conn.execute(sa.select(u.account_id, u.day, u.quantity, u.events, u.summarized))
        return {
            (r.account_id, str(r.day)): (r.quantity, r.events, bool(r.summarized)) for r in rows
        }


def test_csv_with_a_column_map_lists_every_error_of_a_row_in_line_order(
    db: Engine, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,customer_id,event,ts,amount\n"
        "e1,acme,tokens,2026-11-02T10:00:00Z,5\n"
        "e2,acme,tokens,05/11/2026,-3\n"
        "e3,,tokens,2026-11-02T11:00:00,lots\n"
        "e4,globex,api_calls,2026-11-03T09:30:00+01:00,2\n"
    )
    mapping = "id=event_id,account=customer_id,metric=event,timestamp=ts,quantity=amount"

    result = run_import(database_url, tmp_path, str(path), "--kind", "events", "--map", mapping)

    assert result.returncode == 1, result.stderr
    assert "4 rows read: 2 accepted, 0 duplicates, 2 rejected" in result.stdout
    errors = [line.strip() for line in result.stdout.splitlines() if line.startswith("  line")]
    assert errors == [
        "line 3: timestamp: '05/11/2026' is not a valid date and time: use ISO 8601 with a "
        "UTC offset (e.g. 2026-12-05T14:30:00Z or 2026-12-05T15:30:00+01:00)",
        "line 3: quantity: Input should be greater than or equal to 0",
        "line 4: quantity: 'lots' is not a number",
        "line 4: account: Field required",
        "line 4: timestamp: '2026-11-02T11:00:00' has no UTC offset: add one, as in "
        "2026-12-05T14:30:00Z",
    ]
    assert daily(db) == {
        ("acme", "2026-11-02"): (5.0, 1, False),
        ("globex", "2026-11-03"): (2.0, 1, False),
    }


def test_tsv_usage_summaries_mapped_in_steward_toml(
    db: Engine, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "steward.toml").write_text(
        '[import.map.usage]\naccount = "customer"\nday = "date"\nquantity = "total"\n'
    )
    path = tmp_path / "daily.tsv"
    path.write_text(
        "id\tcustomer\tmetric\tdate\ttotal\tevents\n"
        "s1\tacme\ttokens\t2026-11-01\t100\t4\n"
        "s2\tacme\ttokens\t2026-11-02\t200\t\n"
        "s3\tacme\ttokens\t2026-11-01\t150\t6\n"  # a later total for 11-01 replaces s1
        "s4\tacme\ttokens\t1/11/2026\t10\t1.5\n"
    )

    result = run_import(database_url, tmp_path, str(path), "--kind", "usage")
    again = run_import(database_url, tmp_path, str(path), "--kind", "usage")

    assert "4 rows read: 3 accepted, 0 duplicates, 1 rejected" in result.stdout
    assert "line 5: events: 1.5 is not a whole number" in result.stdout
    assert (
        "line 5: day: '1/11/2026' is not a valid date: use YYYY-MM-DD or ISO 8601" in result.stdout
    )
    assert "4 rows read: 0 accepted, 3 duplicates, 1 rejected" in again.stdout
    assert daily(db) == {
        ("acme", "2026-11-01"): (150.0, 6, True),
        ("acme", "2026-11-02"): (200.0, 1, True),
    }


def test_jsonl_dry_run_reports_and_writes_nothing(
    db: Engine, database_url: str, tmp_path: Path
) -> None:
    rows: list[dict[str, Any]] = [
        {"id": f"t{n}", "account": "acme", "status": "open", "opened_at": "2026-11-01T08:00:00Z"}
        for n in range(3)
    ]
    rows[1] = {**rows[1], "status": "lost", "csat": 9}
    path = tmp_path / "tickets.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    before = counts(db)

    dry = run_import(database_url, tmp_path, str(path), "--kind", "tickets", "--dry-run")

    assert dry.returncode == 1
    assert "Dry run, nothing written: 3 rows read, 2 valid, 1 rejected" in dry.stdout
    assert "line 2: status:" in dry.stdout
    assert "line 2: csat: Input should be less than or equal to 5" in dry.stdout
    assert counts(db) == before
    with db.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(tables.support_tickets)) == 0

    path.write_bytes(b"\n".join(orjson.dumps(r) for r in (rows[0], rows[2])) + b"\n")
    clean = run_import(database_url, tmp_path, str(path), "--kind", "tickets", "--dry-run")

    assert clean.returncode == 0, clean.stdout
    assert "Dry run, nothing written: 2 rows read, 2 valid, 0 rejected" in clean.stdout
    assert counts(db) == before


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_xlsx_with_spreadsheet_dates_and_numbers(
    db: Engine, database_url: str, tmp_path: Path
) -> None:
    path = write_xlsx(
        tmp_path / "usage.xlsx",
        [
            ["Row ID", "Customer", "Metric", "Day", "Total", "Users"],
            [1001, "acme", "tokens", datetime(2026, 11, 1), 1200, 7],
            [1002, "acme", "tokens", datetime(2026, 11, 2), 800.5, None],
            [None, None, None, None, None, None],  # an empty row is skipped
            [1003, "acme", "tokens", "soon", -1, 2],
        ],
    )
    mapping = "id=Row ID,account=Customer,metric=Metric,day=Day,quantity=Total,users=Users"

    result = run_import(database_url, tmp_path, str(path), "--kind", "usage", "--map", mapping)

    assert "3 rows read: 2 accepted, 0 duplicates, 1 rejected" in result.stdout, result.stderr
    assert "line 5: day: 'soon' is not a valid date: use YYYY-MM-DD or ISO 8601" in result.stdout
    assert "line 5: quantity: Input should be greater than or equal to 0" in result.stdout
    assert daily(db) == {
        ("acme", "2026-11-01"): (1200.0, 1, True),
        ("acme", "2026-11-02"): (800.5, 1, True),
    }
    with db.connect() as conn:
        ids = conn.scalars(sa.select(tables.usage_summaries.c.id).order_by("id")).all()
    assert ids == ["1001", "1002"]


def test_xlsx_events_take_a_time_without_offset_as_utc(
    db: Engine, database_url: str, tmp_path: Path
) -> None:
    path = write_xlsx(
        tmp_path / "events.xlsx",
        [
            ["id", "account", "metric", "timestamp", "quantity", "success"],
            ["x1", "acme", "tokens", datetime(2026, 11, 1, 23, 30), 3, True],
        ],
    )

    result = run_import(database_url, tmp_path, str(path), "--kind", "events")

    assert result.returncode == 0, result.stdout + result.stderr
    with db.connect() as conn:
        row = conn.execute(sa.select(tables.usage_events)).one()
    assert (row.ts, row.quantity, row.success) == (datetime(2026, 11, 1, 23, 30, tzinfo=UTC), 3, 1)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("acount=customer_id", "'acount' is not a field of events"),
        ("account=client", "column 'client' (mapped to account) is not in the file"),
        ("account", "--map takes field=column pairs"),
    ],
)
def test_a_wrong_mapping_stops_before_anything_is_read(
    db: Engine, database_url: str, tmp_path: Path, mapping: str, message: str
) -> None:
    path = tmp_path / "events.csv"
    path.write_text("id,customer_id,metric,timestamp\ne1,acme,tokens,2026-11-01T00:00:00Z\n")

    result = run_import(database_url, tmp_path, str(path), "--kind", "events", "--map", mapping)

    assert result.returncode == 2
    assert message in result.stderr.replace("\n", " ")
    assert counts(db)["events"] == 0


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_progress_reaches_the_end_of_a_long_file(db: Engine, tmp_path: Path, suffix: str) -> None:
    header = ["id", "account", "metric", "timestamp", "quantity"]
    rows: list[list[Any]] = [
        [f"p{n}", "acme", "tokens", "2026-11-01T00:00:00Z", n % 9] for n in range(5000)
    ]
    path = tmp_path / f"long.{suffix}"
    if suffix == "xlsx":
        write_xlsx(path, [header, *rows])
    else:
        path.write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n")
    seen: list[float] = []

    summary = import_file(
        db,
        path,
        "events",
        file_format=suffix,
        limits=IngestLimits(),
        now=lambda: datetime.now(UTC),
        progress=seen.append,
    )

    assert summary.accepted == 5000
    assert len(seen) == 3  # one report per chunk of 2,000 rows
    assert seen == sorted(seen)
    assert seen[-1] == pytest.approx(1.0)
