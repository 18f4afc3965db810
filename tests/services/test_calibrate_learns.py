"""`steward calibrate` learns what warns of churn in this book, from history sent through the API.

In this product a surge of `unfriend` events comes before customers leave. Out of
the box Steward reads any rising metric as healthy; after calibration the surge
counts against the account, and the held-out backtest shows it.
"""

from __future__ import annotations

import random
import re
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from tests.support.cli import steward
from tests.support.sender import Sender

START = date(2025, 1, 6)
DAYS = 300
ACCOUNTS = 100


def churn_day(i: int, days: int = DAYS) -> int | None:
    """Every other account leaves, on a day spread over the second part of the history."""
    first = days * 2 // 5
    return None if i % 2 else first + (i * 7919) % (days - first - 10)


def daily(i: int, days: int = DAYS) -> dict[str, list[float]]:
    rng = random.Random(i)
    leaves = churn_day(i, days)
    posts, unfriend = [], []
    for day in range(days):
        gone = leaves is not None and day >= leaves
        surge = leaves is not None and leaves - 35 <= day < leaves
        posts.append(0.0 if gone else round(100 * rng.uniform(0.85, 1.15)))
        unfriend.append(0.0 if gone else round((20 if surge else 5) * rng.uniform(0.8, 1.2)))
    return {"posts": posts, "unfriend": unfriend}


def events(days: int = DAYS) -> list[dict[str, Any]]:
    out = []
    for i in range(ACCOUNTS):
        for metric, values in daily(i, days).items():
            for day, quantity in enumerate(values):
                if quantity:
                    moment = datetime.combine(START + timedelta(days=day), time(12), tzinfo=UTC)
                    out.append(
                        {
                            "id": f"e-{i}-{metric}-{day}",
                            "account": f"acct-{i:03d}",
                            "timestamp": moment.isoformat(),
                            "metric": metric,
                            "quantity": quantity,
                        }
                    )
    return out


def test_calibration_learns_that_a_surge_of_unfriends_foretells_churn(
    sender: Sender, db: Engine, database_url: str, tmp_path: Path
) -> None:
    batch = events()
    for first in range(0, len(batch), 5000):
        response = sender.signed("/v1/events", {"events": batch[first : first + 5000]})
        assert response.status_code == 200, response.text

    result = steward("calibrate", cwd=tmp_path, DATABASE_URL=database_url)

    assert result.returncode == 0, result.stderr + result.stdout
    assert "Wrote the calibrated score" in result.stdout
    scoring = tomllib.loads((tmp_path / "steward.toml").read_text())["scoring"]
    assert scoring["metric_weights"]["unfriend"] == -1.0
    assert scoring["churn_model"]["metric:unfriend"] > 0
    before, after = churn_aucs(result.stdout)
    assert after > before + 0.1

    again = steward("score", cwd=tmp_path, DATABASE_URL=database_url)  # reads the new file
    assert again.returncode == 0, again.stderr


def test_four_months_of_history_are_enough_to_calibrate(
    sender: Sender, db: Engine, database_url: str, tmp_path: Path
) -> None:
    """120 days of daily use: a 30-day horizon fits, with two or more training cut-offs."""
    batch = events(days=120)
    for first in range(0, len(batch), 5000):
        response = sender.signed("/v1/events", {"events": batch[first : first + 5000]})
        assert response.status_code == 200, response.text

    result = steward("calibrate", cwd=tmp_path, DATABASE_URL=database_url)

    assert result.returncode == 0, result.stderr + result.stdout
    words = " ".join(result.stdout.split())
    assert "Horizon 30 days" in words
    assert re.search(r"cut-offs \d{4}-\d\d-\d\d, \d{4}-\d\d-\d\d", words)
    assert "days since last use" in words  # the challengers were ranked beside the model
    scoring = tomllib.loads((tmp_path / "steward.toml").read_text())["scoring"]
    assert scoring["bgnbd"]["horizon_days"] == 30
    before, after = churn_aucs(result.stdout)
    assert after >= before


def churn_aucs(report: str) -> tuple[float, float]:
    """The held-out churn AUC of the current settings and of what ships, from the summary."""
    words = " ".join(report.split())
    match = re.search(r"churn AUC (\d\.\d+) -> (\d\.\d+)", words)
    assert match, report
    return float(match[1]), float(match[2])
