"""`steward import`: backfills through the real CLI, validated and idempotent like the webhook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import tables
from tests.support.server import counts

STEWARD = str(Path(sys.executable).with_name("steward"))


def run_import(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [STEWARD, "import", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return path


def events(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"bf_{i}",
            "account": f"acct_{i % 7}",
            "timestamp": f"2026-10-{1 + i % 28:02d}T12:00:00+02:00",
            "metric": "api_calls",
            "quantity": i % 5,
            "feature": "search" if i % 2 else "export",
        }
        for i in range(n)
    ]


def test_jsonl_backfill_reports_rejected_lines_and_reruns_add_nothing(
    db: Engine, database_url: str, tmp_path: Path
) -> None:
    rows = events(5000)
    rows[10] = {**rows[10], "quantity": -3}  # line 11
    rows[4321] = {**rows[4321], "timestamp": "yesterday"}  # line 4322
    path = write_jsonl(tmp_path / "usage.jsonl", rows)
    with path.open("ab") as fh:
        fh.write(b"{not json\n")  # line 5001

    first = run_import(database_url, tmp_path, str(path), "--kind", "events")

    assert first.returncode == 1, first.stderr
    assert "5001 rows read: 4998 accepted, 0 duplicates, 3 rejected" in first.stdout
    assert "line 11: quantity: Input should be greater than or equal to 0" in first.stdout
    assert "line 4322: timestamp:" in first.stdout
    assert "line 5001: not valid JSON" in first.stdout
    stored = counts(db)
    assert stored["events"] == stored["daily_events"] == 4998
    expected = sum(r["quantity"] for i, r in enumerate(rows) if i not in (10, 4321))
    assert stored["daily_quantity"] == expected

    again = run_import(database_url, tmp_path, str(path), "--kind", "events")

    assert "5001 rows read: 0 accepted, 4998 duplicates, 3 rejected" in again.stdout
    assert counts(db) == stored


def test_csv_accounts_and_contracts(db: Engine, database_url: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "id,name,segment,arr,csm,timezone\n"
        "acme,Acme Corp,enterprise,120000,U1,Europe/Paris\n"
        "globex,Globex,smb,,U2,\n"
        "initech,Initech,smb,lots,U3,\n"
    )
    contracts = tmp_path / "contracts.csv"
    contracts.write_text(
        "id,account,start_date,end_date,committed_amount,unit_prices\n"
        'c1,acme,2026-01-01,2026-12-31,90000,"{""tokens"": 0.002}"\n'
    )

    result = run_import(database_url, tmp_path, str(accounts), "--kind", "accounts")
    contract_result = run_import(database_url, tmp_path, str(contracts), "--kind", "contracts")

    assert "3 rows read: 2 accepted, 0 duplicates, 1 rejected" in result.stdout
    assert "line 4: arr: 'lots' is not a number" in result.stdout
    assert contract_result.returncode == 0, contract_result.stdout + contract_result.stderr
    with db.connect() as conn:
        names: dict[str, float | None] = dict(
            conn.execute(sa.select(tables.accounts.c.id, tables.accounts.c.arr)).all()
        )
        prices = conn.scalar(sa.select(tables.contracts.c.unit_prices))
    assert names == {"acme": 120000.0, "globex": None}
    assert prices == {"tokens": 0.002}


def test_import_refuses_unknown_kind_and_format(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("x")
    bad_kind = run_import(database_url, tmp_path, str(path), "--kind", "users")
    bad_format = run_import(database_url, tmp_path, str(path), "--kind", "events")
    assert bad_kind.returncode == 2
    assert "--kind must be one of" in bad_kind.stderr
    assert bad_format.returncode == 2
    assert "use --format jsonl, csv, tsv or xlsx" in bad_format.stderr
