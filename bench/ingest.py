"""Ingestion throughput: signed webhook batches, single events, `steward import`, raw baseline.

Run from the repository root:

    .venv/bin/python bench/ingest.py [--database-url URL] [--events N]

In one run it measures, each on an empty database:

  (a) events/s for POST /v1/events batches of --batch events, signed with Standard
      Webhooks headers, over real HTTP to `steward serve` started as a subprocess,
      --concurrency requests in flight;
  (b) events/s for single-event requests (--single requests), same concurrency;
  (c) events/s for `steward import FILE --kind events` of a JSONL file, timed around
      the subprocess (and, apart, without the interpreter start-up, measured by
      importing an empty file);
  (d) rows/s for the raw driver inserting the same rows into a bare table: sqlite3
      executemany (WAL, synchronous=NORMAL, one commit) on SQLite, psycopg COPY on
      PostgreSQL (the median of --baseline-runs runs, each into an empty table);

  (e) events/s for the same events as (a) through the storage layer alone (validated
      before the clock starts, stored by services.ingest.store in transactions of
      --batch events, in this process): the ceiling for (a), all HTTP and JSON aside;

and prints a table with the ratios a/d, b/d, c/d and e/d.

Without --database-url (or $STEWARD_BENCH_DATABASE_URL) it runs on SQLite, one fresh
file per measure in a temporary directory. With a PostgreSQL URL such as
postgresql://postgres@127.0.0.1:5432/postgres it creates a scratch database
steward_bench_<random> on that server, migrates it with `steward migrate`, empties the
tables before each measure and drops the database at the end.

Request bodies and signatures are built before the clock starts; signatures are valid
for 5 minutes, so each HTTP measure must finish within that.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import math
import os
import platform
import random
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import psycopg
from psycopg import sql
from standardwebhooks.webhooks import Webhook

from core.settings import IngestLimits, normalise_database_url
from handlers.api import payloads
from services import ingest
from storage import migrate
from storage.db import make_engine

HOST = "127.0.0.1"
METRICS = ("tokens", "api_calls", "resolutions")
FEATURES = ("search", "summarize", "chat", "export", "agent")
TEAMS = ("support", "sales", "engineering", "ops")
OFFSETS = (UTC, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5)))
COLUMNS = (
    "id, account_id, metric, ts, quantity, user_id, feature, team, success, properties, received_at"
)
SQLITE_BARE = """CREATE TABLE usage_events_bare (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, metric TEXT NOT NULL, ts TEXT NOT NULL,
    quantity REAL NOT NULL, user_id TEXT, feature TEXT, team TEXT, success INTEGER,
    properties TEXT, received_at TEXT NOT NULL)"""
POSTGRES_BARE = """CREATE TABLE usage_events_bare (
    id varchar(255) PRIMARY KEY, account_id varchar(255) NOT NULL,
    metric varchar(100) NOT NULL, ts timestamptz NOT NULL, quantity double precision NOT NULL,
    user_id varchar(255), feature varchar(255), team varchar(255), success boolean,
    properties json, received_at timestamptz NOT NULL)"""
SQLITE_INSERT = (
    "INSERT INTO usage_events_bare (id, account_id, metric, ts, quantity, user_id, feature, team, "
    "success, properties, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
KEEP_TABLES = ("alembic_version", "usage_events_bare")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def steward_bin() -> str:
    beside = Path(sys.executable).parent / "steward"
    found = str(beside) if beside.exists() else shutil.which("steward")
    if found is None:
        raise SystemExit("cannot find the `steward` command: run with .venv/bin/python")
    return found


def code_version() -> str:
    """The git commit of the application code, and whether its files differ from it."""
    root = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(root)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "bot", "handlers", "storage"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"git {head}" + (" with uncommitted changes in bot/handlers/storage" if dirty else "")


# --- events -------------------------------------------------------------------------------


def make_events(count: int, rng: random.Random, accounts: int, days: int) -> list[dict[str, Any]]:
    """Realistic events: random accounts and metrics, times over the last `days` days."""
    now = datetime.now(UTC)
    return [make_event(rng, accounts, days, now) for _ in range(count)]


def make_event(rng: random.Random, accounts: int, days: int, now: datetime) -> dict[str, Any]:
    account = f"acct_{rng.randrange(accounts):04d}"
    metric = rng.choice(METRICS)
    moment = now - timedelta(seconds=rng.uniform(60, days * 86_400))
    event: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "account": account,
        "timestamp": moment.astimezone(rng.choice(OFFSETS)).isoformat(timespec="seconds"),
        "metric": metric,
        "quantity": quantity(rng, metric),
    }
    if rng.random() < 0.7:
        event["user"] = f"{account}_user_{rng.randrange(25)}"
    if rng.random() < 0.5:
        event["feature"] = rng.choice(FEATURES)
    if rng.random() < 0.3:
        event["team"] = rng.choice(TEAMS)
    if metric == "api_calls":
        event["success"] = rng.random() < 0.97
    if rng.random() < 0.2:
        event["properties"] = {"region": rng.choice(("eu", "us")), "client": "sdk-python"}
    return event


def quantity(rng: random.Random, metric: str) -> float:
    if metric == "tokens":
        return round(rng.lognormvariate(7, 1.2), 1)
    if metric == "api_calls":
        return float(rng.randint(1, 20))
    return 1.0


def bare_rows(events: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The events as usage_events rows (ts as RFC 3339 text, properties as JSON text)."""
    received = datetime.now(UTC).isoformat()
    return [
        (
            e["id"],
            e["account"],
            e["metric"],
            e["timestamp"],
            e["quantity"],
            e.get("user"),
            e.get("feature"),
            e.get("team"),
            e.get("success"),
            orjson.dumps(e["properties"]).decode() if "properties" in e else None,
            received,
        )
        for e in events
    ]


# --- databases ----------------------------------------------------------------------------


class SqliteTarget:
    """A fresh SQLite file per measure, in the temporary directory."""

    kind = "sqlite"
    baseline_name = "sqlite3 executemany"
    baseline_label = "d"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def describe(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (a fresh file per measure)"

    def fresh_url(self, name: str) -> str:
        return f"sqlite:///{self.workdir / name}.db"

    def scalar(self, url: str, query: str) -> Any:
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            return conn.execute(query).fetchone()[0]

    def baseline(self, rows: list[tuple[Any, ...]], run: int) -> float:
        path = self.workdir / f"baseline-{run}.db"
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(SQLITE_BARE)
            conn.commit()
            start = time.perf_counter()
            conn.executemany(SQLITE_INSERT, rows)
            conn.commit()
            return time.perf_counter() - start

    def close(self) -> None:
        pass


class PostgresTarget:
    """A scratch database on the server, migrated once and emptied before each measure."""

    kind = "postgresql"
    baseline_name = "psycopg COPY"
    baseline_label = "d'"

    def __init__(self, admin_url: str, workdir: Path) -> None:
        self.admin_url = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.name = f"steward_bench_{secrets.token_hex(4)}"
        self.url = urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{self.name}"))
        self.workdir = workdir
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
            self.version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        log(f"created database {self.name}; running `steward migrate`")
        run_steward(["migrate"], self.url, workdir)

    def describe(self) -> str:
        return f"PostgreSQL {self.version} (scratch database {self.name})"

    def fresh_url(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> ALL(%s)",
                    [list(KEEP_TABLES)],
                )
            ]
            tables = sql.SQL(", ").join(sql.Identifier(n) for n in names)
            conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(tables))
        return self.url

    def scalar(self, url: str, query: str) -> Any:
        with psycopg.connect(url) as conn:
            return conn.execute(query).fetchone()[0]  # type: ignore[index]

    def baseline(self, rows: list[tuple[Any, ...]], run: int) -> float:
        with psycopg.connect(self.url) as conn:
            conn.execute("DROP TABLE IF EXISTS usage_events_bare")
            conn.execute(POSTGRES_BARE)
            conn.commit()
            start = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY usage_events_bare ({COLUMNS}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            return time.perf_counter() - start

    def close(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(self.name)))
        log(f"dropped database {self.name}")


Target = SqliteTarget | PostgresTarget


def make_target(url: str | None, workdir: Path) -> Target:
    if not url or url.startswith("sqlite"):
        return SqliteTarget(workdir)
    if url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        return PostgresTarget(url, workdir)
    raise SystemExit(f"unsupported --database-url {url!r}: use sqlite or postgresql://...")


def check_totals(target: Target, url: str, events: Sequence[dict[str, Any]]) -> str:
    """Compare the stored event count and the daily rollup sum with what was sent."""
    count = target.scalar(url, "SELECT count(*) FROM usage_events")
    stored = target.scalar(url, "SELECT coalesce(sum(quantity), 0) FROM usage_daily")
    expected = math.fsum(e["quantity"] for e in events)
    if count != len(events) or not math.isclose(stored, expected, rel_tol=1e-9):
        raise RuntimeError(
            f"stored {count} events summing {stored} in usage_daily; "
            f"sent {len(events)} summing {expected}"
        )
    return f"{count} events stored, usage_daily sum {stored:.1f} == sent"


# --- steward subprocesses -----------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    secret: str
    token: str

    @classmethod
    def random(cls) -> Credentials:
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        return cls(secret=f"whsec_{key}", token=secrets.token_urlsafe(32))


def steward_env(database_url: str, creds: Credentials | None = None) -> dict[str, str]:
    """The environment without any Steward setting of the caller's, plus ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STEWARD_") and k not in {"DATABASE_URL", "HOST", "PORT"}
    }
    env["DATABASE_URL"] = database_url
    if creds is not None:
        env["STEWARD_WEBHOOK_SECRETS"] = creds.secret
        env["STEWARD_API_TOKENS"] = creds.token
    return env


def run_steward(args: list[str], database_url: str, workdir: Path) -> str:
    done = subprocess.run(
        [steward_bin(), *args],
        cwd=workdir,
        env=steward_env(database_url),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"steward {args[0]} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(
    database_url: str, creds: Credentials, workdir: Path, log_level: str, workers: int = 1
) -> Iterator[str]:
    """Run `steward serve` on a free port until the block ends; yield its base URL."""
    port = free_port()
    log_path = workdir / f"serve-{port}.log"
    command = [
        steward_bin(),
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--log-level", log_level],
            cwd=workdir,
            env=steward_env(database_url, creds),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://{HOST}:{port}"
            wait_healthy(base, proc, log_path)
            yield base
        except BaseException:
            state = "running" if proc.poll() is None else f"exited with {proc.returncode}"
            log(f"steward serve ({state}) log tail:\n{log_path.read_text()[-3000:]}")
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"steward serve exited:\n{log_path.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"steward serve not healthy after 60 s:\n{log_path.read_text()[-2000:]}")


# --- HTTP measures ------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    body: bytes
    headers: dict[str, str]
    expected: int


def signed(webhook: Webhook, payload: Any, expected: int) -> Request:
    body = orjson.dumps(payload)
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": webhook.sign(msg_id, now, body.decode()),
    }
    return Request(body, headers, expected)


class Progress:
    """Print to stderr each time another tenth of the requests is done."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.lock = threading.Lock()

    def tick(self) -> None:
        with self.lock:
            self.done += 1
            if self.done * 10 // self.total != (self.done - 1) * 10 // self.total:
                log(f"{self.label}: {self.done}/{self.total} requests")


def send_all(base: str, requests: Sequence[Request], concurrency: int, label: str) -> float:
    """POST every request to /v1/events, `concurrency` at a time; return the seconds taken."""
    stripes = [requests[i::concurrency] for i in range(concurrency)]
    ready = threading.Barrier(concurrency + 1, timeout=60)
    progress = Progress(label, len(requests))
    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(_send, base, s, ready, progress) for s in stripes]
        ready.wait()
        start = time.perf_counter()
        for future in futures:
            future.result()
        return time.perf_counter() - start


def _send(base: str, stripe: Sequence[Request], ready: threading.Barrier, progress: Progress):
    with httpx.Client(base_url=base, timeout=120) as client:
        ready.wait()
        for request in stripe:
            response = client.post("/v1/events", content=request.body, headers=request.headers)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
            accepted = response.json()["accepted"]
            if accepted != request.expected:
                raise RuntimeError(f"accepted {accepted}, expected {request.expected}")
            progress.tick()


def check_usage_api(base: str, token: str, events: Sequence[dict[str, Any]], days: int) -> str:
    """GET /v1/accounts/{id}/usage for the busiest account; compare with what was sent."""
    sums: dict[str, float] = defaultdict(float)
    for e in events:
        sums[e["account"]] += e["quantity"]
    account = max(sums, key=lambda a: sums[a])
    end = datetime.now(UTC).date()
    params = {"start": (end - timedelta(days=days + 1)).isoformat(), "end": end.isoformat()}
    response = httpx.get(
        f"{base}/v1/accounts/{account}/usage",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    series = response.json()["metrics"].values()
    got = math.fsum(point["quantity"] for points in series for point in points)
    if not math.isclose(got, sums[account], rel_tol=1e-9):
        raise RuntimeError(f"usage API says {got} for {account}, sent {sums[account]}")
    return f"GET /v1/accounts/{account}/usage sum {got:.1f} == sent"


# --- the measures -------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    label: str
    name: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


@dataclass
class Bench:
    args: argparse.Namespace
    target: Target
    workdir: Path
    rng: random.Random
    creds: Credentials
    checks: list[str] = field(default_factory=list)
    code: str = field(default_factory=code_version)
    baseline_rows: list[tuple[Any, ...]] = field(default_factory=list)
    batch_events: list[dict[str, Any]] = field(default_factory=list)

    def events(self, count: int) -> list[dict[str, Any]]:
        return make_events(count, self.rng, self.args.accounts, self.args.days)

    def http(self, label: str, events: list[dict[str, Any]], batch: int) -> float:
        """Serve a fresh database, send the events in requests of `batch`, check, time."""
        webhook = Webhook(self.creds.secret)
        url = self.target.fresh_url(f"http-{label}")
        with serve(
            url, self.creds, self.workdir, self.args.server_log_level, self.args.workers
        ) as base:
            if batch == 1:
                requests = [signed(webhook, e, 1) for e in events]
            else:
                chunks = [events[i : i + batch] for i in range(0, len(events), batch)]
                requests = [signed(webhook, {"events": c}, len(c)) for c in chunks]
            log(f"({label}) sending {len(requests)} requests of {batch} event(s)")
            seconds = send_all(base, requests, self.args.concurrency, f"({label})")
            if batch > 1:
                self.checks.append(
                    f"(a) {check_usage_api(base, self.creds.token, events, self.args.days)}"
                )
        self.checks.append(f"({label}) {check_totals(self.target, url, events)}")
        return seconds

    def batches(self) -> Measure:
        events = self.events(self.args.events)
        seconds = self.http("a", events, self.args.batch)
        self.batch_events = events
        self.baseline_rows = bare_rows(events)
        return Measure("a", f"webhook, {self.args.batch} events/request", len(events), seconds)

    def storage_only(self) -> Measure:
        """The same events through the storage layer alone: validated before the clock
        starts, then stored in transactions of --batch events (no HTTP, no JSON)."""
        events = self.batch_events
        url = self.target.fresh_url("storage")
        engine = make_engine(normalise_database_url(url))
        migrate.upgrade(engine)
        now = datetime.now(UTC)
        limits = IngestLimits()
        size = self.args.batch
        chunks = [
            payloads.validate("events", events[i : i + size], now=now, limits=limits).models
            for i in range(0, len(events), size)
        ]
        log(f"(e) storage layer alone: {len(chunks)} transactions")
        start = time.perf_counter()
        for models in chunks:
            ingest.store(engine, "events", models, now=now)
        seconds = time.perf_counter() - start
        engine.dispose()
        self.checks.append(f"(e) {check_totals(self.target, url, events)}")
        name = f"storage layer alone, {size}/transaction"
        return Measure("e", name, len(events), seconds)

    def singles(self) -> Measure:
        events = self.events(self.args.single)
        seconds = self.http("b", events, 1)
        return Measure("b", "webhook, 1 event/request", len(events), seconds)

    def imports(self) -> tuple[Measure, Measure]:
        events = self.events(self.args.import_events or self.args.events)
        path, empty = self.workdir / "events.jsonl", self.workdir / "empty.jsonl"
        path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        empty.write_bytes(b"")
        startup = self._import(empty, self.target.fresh_url("import-empty"), 0)
        url = self.target.fresh_url("import")
        log(f"(c) steward import of {len(events)} events")
        seconds = self._import(path, url, len(events))
        self.checks.append(f"(c) {check_totals(self.target, url, events)}")
        return (
            Measure("c", "steward import (JSONL subprocess)", len(events), seconds),
            Measure(
                "c'", f"  same, less start-up ({startup:.2f} s)", len(events), seconds - startup
            ),
        )

    def _import(self, path: Path, url: str, count: int) -> float:
        start = time.perf_counter()
        out = run_steward(["import", str(path), "--kind", "events"], url, self.workdir)
        seconds = time.perf_counter() - start
        if f"{count} rows read: {count} accepted" not in out:
            raise RuntimeError(f"unexpected import output: {out}")
        return seconds

    def baseline(self) -> Measure:
        rows = self.baseline_rows
        runs = self.args.baseline_runs
        log(f"(d) {self.target.baseline_name} of {len(rows)} rows, {runs} time(s)")
        seconds = statistics.median(self.target.baseline(rows, run) for run in range(runs))
        name = f"baseline: {self.target.baseline_name}"
        if runs > 1:
            name += f" (median of {runs})"
        return Measure(self.target.baseline_label, name, len(rows), seconds)


def report(bench: Bench, measures: list[Measure]) -> None:
    args, target = bench.args, bench.target
    base = measures[-1]
    print("Steward ingestion benchmark")
    print(f"database : {target.describe()}")
    print(f"code     : {bench.code}")
    print(
        f"machine  : {platform.system()} {platform.machine()}, os.cpu_count()={os.cpu_count()}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"client   : {args.concurrency} concurrent connections (httpx, threads); "
        f"server: {args.workers} worker process(es), log level {args.server_log_level}"
    )
    print()
    print(f"{'measure':<48}{'events':>10}{'seconds':>10}{'events/s':>12}")
    for m in measures:
        name = f"({m.label}) {m.name}"
        print(f"{name:<48}{m.events:>10}{m.seconds:>10.3f}{m.rate:>12,.0f}")
    print()
    ratios = [f"{m.label}/{base.label} = {m.rate / base.rate:.4f}" for m in measures[:-1]]
    print("ratios   : " + "   ".join(ratios))
    met = "met" if measures[0].rate / base.rate >= 0.3 else "NOT met"
    print(f"target   : a/{base.label} >= 0.3 ... {met}")
    for check in bench.checks:
        print(f"check    : {check}")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("STEWARD_BENCH_DATABASE_URL"),
        help="postgresql://user@host:port/db to bench PostgreSQL (default: SQLite)",
    )
    parser.add_argument("--events", type=positive, default=100_000, help="events for (a) and (d)")
    parser.add_argument("--batch", type=positive, default=1000, help="events per request in (a)")
    parser.add_argument("--single", type=positive, default=2000, help="requests in (b)")
    parser.add_argument("--import-events", type=positive, help="events for (c) (default: --events)")
    parser.add_argument("--concurrency", type=positive, default=4, help="requests in flight")
    parser.add_argument("--accounts", type=positive, default=500)
    parser.add_argument("--days", type=positive, default=60, help="events spread over these days")
    parser.add_argument(
        "--baseline-runs", type=positive, default=3, help="(d) runs; the median is shown"
    )
    parser.add_argument("--seed", type=int, default=20261001)
    parser.add_argument("--server-log-level", default="info", help="steward serve --log-level")
    parser.add_argument("--workers", type=positive, default=1, help="steward serve --workers")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as tmp:
        workdir = Path(tmp)
        target = make_target(args.database_url, workdir)
        bench = Bench(args, target, workdir, random.Random(args.seed), Credentials.random())
        try:
            a = bench.batches()
            e = bench.storage_only()
            b = bench.singles()
            c, c_net = bench.imports()
            d = bench.baseline()
        finally:
            target.close()
    report(bench, [a, b, c, c_net, e, d])


if __name__ == "__main__":
    main()
