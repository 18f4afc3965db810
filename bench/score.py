"""Scoring throughput: a whole book for one day, a backtest, and a replay of past days.

Run from the repository root:

    .venv/bin/python bench/score.py [--accounts 10000] [--days 365] [--metrics 3]
                                    [--database-url URL] [--replay-days 7] [--users N]

It fills a fresh database with --accounts accounts, each with a one-year commit
priced per metric and --days days x --metrics metrics of daily rollups (written
straight into usage_daily: this measures scoring, not ingestion), then measures:

  (s) a plain SQL scan of the same rollup rows (every usage_daily row, and with
      --users every usage_daily_breakdown row, fetched in key order): the baseline
      every figure is divided by;
  (a) `steward score` for the last day: every account scored and its snapshot
      written, in accounts/s, and a/s as a ratio of the scan time;
  (q) the same for a quarter of the accounts: linear growth means (a)/(q) ~ 4;
  (b) `steward backtest` at the day --horizon days before the end;
  (r) a replay of --replay-days consecutive days (what `steward score --from --to`
      does to rebuild history), in account-days/s, with the projected time of a
      365-day replay.

Without --database-url it runs on SQLite in a temporary directory; with a
PostgreSQL URL it creates and drops a scratch database on that server.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services import scoring
from signals.config import ScoringConfig
from storage import migrate
from storage.db import make_engine, write_transaction
from storage.tables import accounts, contracts, usage_daily, usage_daily_breakdown

METRICS = ("api_calls", "tokens", "resolutions", "storage_gb", "seats")
PRICES = {"api_calls": 0.002, "tokens": 0.00001, "resolutions": 0.9, "storage_gb": 0.1, "seats": 1}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fill(
    engine: sa.Engine, n_accounts: int, days: int, n_metrics: int, end: date, users: int = 0
) -> int:
    """Write the book: accounts, one contract each, the daily rollups and, with ``users``,
    per-day breakdown rows (that many users, two features and a team a day)."""
    rng = np.random.default_rng(7)
    start = end - timedelta(days=days - 1)
    metrics = METRICS[:n_metrics]
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        conn.execute(
            accounts.insert(),
            [
                {
                    "id": f"acct-{i:06d}",
                    "name": f"Account {i}",
                    "segment": ("smb", "mid-market", "enterprise")[i % 3],
                    "arr": float(rng.integers(5_000, 500_000)),
                    "is_placeholder": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(n_accounts)
            ],
        )
        conn.execute(
            contracts.insert(),
            [
                {
                    "id": f"c-{i:06d}",
                    "account_id": f"acct-{i:06d}",
                    "kind": "commit",
                    "start_date": start,
                    "end_date": start + timedelta(days=364),
                    "committed_amount": 50_000.0,
                    "currency": "USD",
                    "unit_prices": {m: PRICES[m] for m in metrics},
                    "monthly_budget": 5_000.0,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(n_accounts)
            ],
        )
    rows = 0
    day_list = [start + timedelta(days=d) for d in range(days)]
    weekday = np.array([1.0 if d.weekday() < 5 else 0.4 for d in day_list])
    for first in range(0, n_accounts, 500):
        chunk: list[dict[str, object]] = []
        for i in range(first, min(first + 500, n_accounts)):
            level = rng.lognormal(6, 1)
            slope = rng.normal(0, 0.003)
            curve = level * weekday * np.exp(slope * np.arange(days))
            for m in metrics:
                values = curve * rng.uniform(0.7, 1.3, days)
                ev = np.maximum(1, (values / 10).astype(int))
                acct = f"acct-{i:06d}"
                chunk.extend(
                    {
                        "account_id": acct,
                        "metric": m,
                        "day": day_list[d],
                        "quantity": float(values[d]),
                        "events": int(ev[d]),
                        "successes": 0,
                        "failures": 0,
                    }
                    for d in range(days)
                )
        with write_transaction(engine) as conn:
            conn.execute(usage_daily.insert(), chunk)
            if users:
                breakdown = _breakdown(range(first, min(first + 500, n_accounts)), day_list, users)
                conn.execute(usage_daily_breakdown.insert(), breakdown)
                rows += len(breakdown)
        rows += len(chunk)
        log(f"  filled {min(first + 500, n_accounts)}/{n_accounts} accounts ({rows:,} rows)")
    return rows


def _breakdown(ids: range, day_list: list[date], users: int) -> list[dict[str, object]]:
    values = [("user", f"u{k}") for k in range(users)]
    values += [("feature", "chat"), ("feature", "search"), ("team", "ops")]
    return [
        {
            "account_id": f"acct-{i:06d}",
            "metric": METRICS[0],
            "day": day,
            "dimension": dimension,
            "value": value,
            "quantity": 10.0,
            "events": 1,
            "successes": 0,
            "failures": 0,
        }
        for i in ids
        for day in day_list
        for dimension, value in values
    ]


SCANS = (
    "SELECT account_id, metric, day, quantity, events FROM usage_daily "
    "ORDER BY account_id, metric, day",
    "SELECT account_id, metric, day, dimension, value, events FROM usage_daily_breakdown "
    "ORDER BY account_id, metric, day, dimension, value",
)


def scan(engine: sa.Engine) -> float:
    """Time a plain fetch of every rollup row (daily totals and breakdowns) in key order."""
    t0 = time.perf_counter()
    count = 0
    with engine.connect() as conn:
        for query in SCANS:
            result = conn.execution_options(stream_results=True, yield_per=10_000).execute(
                sa.text(query)
            )
            count += sum(1 for _ in result)
    elapsed = time.perf_counter() - t0
    log(f"  scanned {count:,} rows")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--metrics", type=int, default=3, choices=range(1, len(METRICS) + 1))
    parser.add_argument("--horizon", type=int, default=60)
    parser.add_argument("--replay-days", type=int, default=7)
    parser.add_argument(
        "--users", type=int, default=0, help="also write breakdown rows: N users a day per account"
    )
    add_database_option(parser)
    args = parser.parse_args()
    on_scratch_database(args.database_url, lambda url: _run(url, args))


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """--database-url: a PostgreSQL server to make a scratch database on (default: SQLite)."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("STEWARD_BENCH_DATABASE_URL"),
        help="default: SQLite",
    )


def on_scratch_database(admin_url: str | None, run: Callable[[str], None]) -> None:
    """Run on a fresh database (SQLite in a temporary directory, or one made on that
    PostgreSQL server), removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        url, cleanup = _database(admin_url, Path(tmp))
        try:
            run(url)
        finally:
            cleanup()


def _database(admin_url: str | None, tmp: Path) -> tuple[str, Callable[[], None]]:
    if not admin_url:
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    name = f"steward_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    base = admin.url.set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return base, drop


def _run(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    end = date(2026, 10, 31)
    config = ScoringConfig()
    now = datetime.now(UTC)
    log(f"filling {args.accounts} accounts x {args.days} days x {args.metrics} metrics")
    t0 = time.perf_counter()
    rows = fill(engine, args.accounts, args.days, args.metrics, end, args.users)
    fill_s = time.perf_counter() - t0
    scan_s = min(scan(engine) for _ in range(2))

    def score(ids: list[str] | None = None) -> float:
        t = time.perf_counter()
        scoring.score_day(engine, as_of=end, config=config, now=now, account_ids=ids)
        return time.perf_counter() - t

    log("scoring the book for one day")
    score_s = score()
    quarter_ids = [f"acct-{i:06d}" for i in range(args.accounts // 4)]
    log("scoring a quarter of the book")
    quarter_s = score(quarter_ids)
    log("backtest")
    t = time.perf_counter()
    result = scoring.backtest(
        engine, as_of=end - timedelta(days=args.horizon), horizon_days=args.horizon, config=config
    )
    backtest_s = time.perf_counter() - t
    log(f"replaying {args.replay_days} days")
    t = time.perf_counter()
    scoring.score_range(
        engine,
        first=end - timedelta(days=args.replay_days),
        last=end - timedelta(days=1),
        config=config,
        now=now,
    )
    replay_s = time.perf_counter() - t
    n = args.accounts
    per_day = replay_s / max(1, args.replay_days)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpu, "
        f"Python {platform.python_version()}, {engine.dialect.name}"
    )
    print(
        f"book: {n} accounts x {args.days} days x {args.metrics} metrics = {rows:,} rollup rows "
        f"(written in {fill_s:.0f} s)"
    )
    print(f"(s) plain SQL scan of the rollups      {scan_s:8.2f} s  {rows / scan_s:12,.0f} rows/s")
    print(
        f"(a) score the book for one day          {score_s:8.2f} s  {n / score_s:12,.0f} accounts/s"
        f"   a/s = {score_s / scan_s:.1f}x the scan"
    )
    print(
        f"(q) score a quarter of the book         {quarter_s:8.2f} s  "
        f"{len(quarter_ids) / quarter_s:12,.0f} accounts/s   a/q = {score_s / quarter_s:.2f} "
        "(4.0 = linear)"
    )
    print(
        f"(b) backtest, {args.horizon}-day horizon           {backtest_s:8.2f} s  "
        f"{n / backtest_s:12,.0f} accounts/s   b/s = {backtest_s / scan_s:.1f}x  "
        f"({result.accounts} eligible)"
    )
    print(
        f"(r) replay {args.replay_days} day(s)                  {replay_s:8.2f} s  "
        f"{n * args.replay_days / replay_s:12,.0f} account-days/s; "
        f"a 365-day replay ~ {per_day * 365 / 60:.0f} min"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
