"""A synthetic book with known outcomes, sent through the signed API, then scored by the CLI."""

from __future__ import annotations

import csv
import io
import json
import statistics
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.cli.scores import EXPORT_COLUMNS
from core import metrics
from demo.book import Book, book_payload_batches, generate_book
from services import scoring
from signals.config import ScoringConfig
from storage import snapshots, tables
from tests.support.cli import steward
from tests.support.sender import Sender

START = date(2025, 3, 1)
DAYS = 300
END = START + timedelta(days=DAYS - 1)
CUTOFF = date(2025, 9, 1)
HORIZON = 60


def send(sender: Sender, book: Book) -> None:
    for kind, items in book_payload_batches(book, batch_size=2000):
        response = sender.signed(f"/v1/{kind}", {kind: items})
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == len(items)


def run(database_url: str, cwd: Path, *args: str) -> str:
    result = steward(*args, cwd=cwd, DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_a_book_sent_through_the_api_is_scored_exported_and_backtested(
    sender: Sender, db: Engine, database_url: str, tmp_path: Path
) -> None:
    book = generate_book(seed=11, accounts=60, start=START, days=DAYS, events_per_day_cap=6)
    send(sender, book)

    scored = run(database_url, tmp_path, "score")
    assert "Scored 60 accounts as of" in scored

    rows = json.loads(run(database_url, tmp_path, "scores", "--format", "json"))
    assert len(rows) == 60
    by_id = {row["account_id"]: row for row in rows}
    gone = [a for a, t in book.truth.items() if t.churned_by(END - timedelta(days=21))]
    steady = [a for a, t in book.truth.items() if t.shape == "steady" and not t.churns]
    assert gone
    assert steady
    assert (
        statistics.mean(by_id[a]["health_score"] for a in gone)
        < statistics.mean(by_id[a]["health_score"] for a in steady) - 15
    )
    assert all(by_id[a]["band"] != "healthy" for a in gone)
    assert all(by_id[a]["reasons"] for a in rows_ids(rows))

    table = list(csv.DictReader(io.StringIO(run(database_url, tmp_path, "scores"))))
    assert tuple(table[0]) == EXPORT_COLUMNS
    assert len(table) == 60

    report = json.loads(
        run(
            database_url,
            tmp_path,
            "backtest",
            "--as-of",
            CUTOFF.isoformat(),
            "--horizon",
            f"{HORIZON}d",
            "--format",
            "json",
        )
    )
    churn = auc_by_predictor(report, "churn")
    assert report["churned"] >= 3
    assert churn["churn risk"] >= 0.8
    assert churn["churn risk"] > max(
        auc for name, auc in churn.items() if kind_of(report, name) == "baseline"
    )


def rows_ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["account_id"] for row in rows]


def auc_by_predictor(report: dict[str, Any], target: str) -> dict[str, float]:
    return {
        p["predictor"]: p["auc"]
        for p in report["predictors"]
        if p["target"] == target and p["auc"] is not None
    }


def kind_of(report: dict[str, Any], predictor: str) -> str:
    return str(next(p["kind"] for p in report["predictors"] if p["predictor"] == predictor))


@pytest.fixture
def small_book(sender: Sender) -> Book:
    book = generate_book(seed=5, accounts=20, start=START, days=DAYS, events_per_day_cap=3)
    send(sender, book)
    return book


def test_replaying_days_keeps_a_snapshot_per_day_with_alerts_for_the_silent(
    small_book: Book, db: Engine, database_url: str, tmp_path: Path
) -> None:
    first, last = END - timedelta(days=6), END - timedelta(days=2)
    out = run(
        database_url, tmp_path, "score", "--from", first.isoformat(), "--to", last.isoformat()
    )
    assert f"as of {last} (replayed 5 days)" in out
    with db.connect() as conn:
        days = [snapshots.snapshots_on(conn, day=first + timedelta(days=i)) for i in range(5)]
    assert all(len(day) == 20 for day in days)
    silent = [
        a
        for a, t in small_book.truth.items()
        if t.shape == "dormant" and t.churned_by(first - timedelta(days=14))
    ]
    assert silent
    for account in silent:
        assert "inactive" in days[-1][account].flags
        assert days[-1][account].tier_since <= first  # no tier flapping day to day


def test_calibrate_dry_run_reports_before_and_after_and_writes_nothing(
    small_book: Book, database_url: str, tmp_path: Path
) -> None:
    out = run(database_url, tmp_path, "calibrate", "--dry-run", "--horizon", "45d")
    assert "Horizon 45 days (as asked)" in out
    assert "validated" in out
    assert "churn: held-out AUC" in out
    assert "days since last use" in out  # the challengers are in the same table
    assert not (tmp_path / "steward.toml").exists()


def test_scoring_commands_explain_what_is_wrong(
    db: Engine, database_url: str, tmp_path: Path
) -> None:
    empty = steward("score", cwd=tmp_path, DATABASE_URL=database_url)
    assert empty.returncode == 1
    assert "No usage stored yet" in empty.stderr
    bad = steward("backtest", "--as-of", "yesterday", cwd=tmp_path, DATABASE_URL=database_url)
    assert bad.returncode == 2
    assert "--as-of must be a date" in bad.stderr
    horizon = steward("backtest", "--horizon", "sixty", cwd=tmp_path, DATABASE_URL=database_url)
    assert horizon.returncode == 2
    assert "--horizon must be like 60d" in horizon.stderr


def test_a_backtest_past_the_data_names_the_latest_cutoff_that_works(
    small_book: Book, database_url: str, tmp_path: Path
) -> None:
    late = (END - timedelta(days=10)).isoformat()
    result = steward(
        "backtest", "--as-of", late, "--horizon", "60d", cwd=tmp_path, DATABASE_URL=database_url
    )
    assert result.returncode == 1
    assert "needs data until" in result.stderr
    assert "Use --as-of" in result.stderr


def test_events_delivered_twice_change_no_signal(
    small_book: Book, sender: Sender, database_url: str, tmp_path: Path
) -> None:
    day = (END - timedelta(days=3)).isoformat()
    run(database_url, tmp_path, "score", "--as-of", day)
    first = json.loads(run(database_url, tmp_path, "scores", "--as-of", day, "--format", "json"))

    for kind, items in book_payload_batches(small_book, batch_size=2000):
        if kind == "events":
            answer = sender.signed("/v1/events", {"events": items}).json()
            assert answer["accepted"] == 0
            assert answer["duplicates"] == len(items)
    run(database_url, tmp_path, "score", "--as-of", day)
    again = json.loads(run(database_url, tmp_path, "scores", "--as-of", day, "--format", "json"))

    assert again == first
    assert len(first) == 20


def test_a_replay_reads_the_book_once_a_week_and_matches_scoring_day_by_day(
    small_book: Book, db: Engine
) -> None:
    config, now = ScoringConfig(), datetime(2026, 1, 5, tzinfo=UTC)
    days = [END - timedelta(days=k) for k in range(9, 0, -1)]  # a chunk of 7 days, then 2

    run = scoring.score_range(db, first=days[0], last=days[-1], config=config, now=now)
    assert run.as_of == days[-1]
    replayed = stored(db, days)

    with db.begin() as conn:
        conn.execute(tables.health_snapshots.delete())
    timed = metrics.REGISTRY.get_sample_value("steward_scoring_duration_seconds_count") or 0.0
    for day in days:
        scoring.score_day(db, as_of=day, config=config, now=now)

    assert stored(db, days) == replayed
    assert metrics.REGISTRY.get_sample_value("steward_scoring_duration_seconds_count") == (
        timed + len(days)  # each day's scoring is timed for /metrics
    )
    assert all(len(replayed[day]) == 20 for day in days)


def stored(db: Engine, days: list[date]) -> dict[date, dict[str, Any]]:
    with db.connect() as conn:
        return {day: snapshots.snapshots_on(conn, day=day) for day in days}
