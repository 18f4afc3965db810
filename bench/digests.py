"""Alerts and digests over a large book (issue 5): alert passes and digest composition.

Run from the repository root:

    .venv/bin/python bench/digests.py [--accounts 10000] [--days 365] [--metrics 3]
                                      [--channels 200] [--managers 0] [--events 100000]
                                      [--batch 5000] [--changed N] [--database-url URL]
                                      [--profile]

It fills a fresh database with bench/score.py's book (--accounts accounts, each with a
commit and --days days x --metrics metrics of daily rollups up to yesterday, UTC), then
gives the accounts owners (40 CSMs, 25 AEs) and moves every commit so that it is in force
(half a year gone, half to go), and subscribes --channels channels: a daily digest each,
an alert subscription on every other one (a quarter of those with quiet hours), scopes
cycling through all / segment / tier / the book of a CSM, ten IANA time zones, some on
weekdays only; --managers of them also get a manager digest. It scores yesterday and
stores the snapshots (the daily snapshot the digests read; timed as setup), then measures:

  (1) scoring the book for yesterday without storing (`score_day(store=False)`): the
      baseline, in accounts/s;
  (2) the first alert pass (`Jobs.run("alerts")`): the silent baseline over every account;
  (i) --events new events for --changed accounts (default 3000, at most 30% of the
      book; today, UTC, over the last hours)
      through the real ingestion path (`handlers.api.payloads.validate`, then
      `services.ingest.store`), in batches of
      --batch: in events/s; it marks those accounts changed;
  (3) the alert pass over the changed accounts (repeated while any is left: one pass
      takes at most services.jobs.MAX_CHANGED), in accounts/s;
  (4) composing and queueing every digest (`Jobs.post_digests(now, force=True)`, no
      sender configured, so nothing is posted): in digests/s, with the accounts they cover.

The last column is the time per account as a multiple of (1)'s: for (4), per account
line covered (an account in three digests counts three times). With --profile each
timed step runs under cProfile (slower) and its top functions go to stderr.

Without --database-url it runs on SQLite in a temporary directory; with a PostgreSQL URL
it creates and drops a scratch database on that server.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.score import METRICS, add_database_option, fill, log, on_scratch_database
from core.messages import Card
from core.settings import IngestLimits, load_settings
from digests.alerts import Evaluation, PassReport
from handlers.api import payloads
from services import ingest, scoring
from services.container import Services, build_services
from services.digest_book import Book, read_book
from services.jobs import MAX_CHANGED, Jobs
from storage import alert_states, migrate, snapshots
from storage.db import make_engine, read_connection, write_transaction
from storage.subscriptions import Sub, list_subscriptions, upsert_subscription
from storage.tables import accounts, contracts, outbox

T = TypeVar("T")
CSMS = 40
AES = 25
SEGMENTS = ("smb", "mid-market", "enterprise")  # as fill() writes them
TIERS = ("digital", "scaled", "strategic")
ZONES = (
    "UTC",
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)
FEATURES = ("chat", "search", "summarize", "export", "agent")
TEAMS = ("support", "sales", "engineering", "ops")


def csm(i: int) -> str:
    return f"csm-{i % CSMS:02d}"


class ProgressJobs(Jobs):
    """The worker's jobs, unchanged, with a log line as chunks of accounts and digests go by."""

    def __init__(self, services: Services) -> None:
        super().__init__(services, {})
        self.expect("", 0)

    def expect(self, label: str, total: int, every: int = 1) -> None:
        self._label, self._total, self._every, self._done = label, total, every, 0
        self._started = time.perf_counter()

    def _tick(self, n: int) -> None:
        before = self._done
        self._done += n
        crossed = self._done // self._every > before // self._every
        if self._label and (crossed or self._done == self._total):
            elapsed = time.perf_counter() - self._started
            log(f"  {self._label}: {self._done:,}/{self._total:,} ({elapsed:.1f} s)")

    def _announce(
        self,
        conn: Connection,
        evaluations: Sequence[Evaluation],
        subs: Sequence[Sub],
        now: datetime,
        baseline: bool,
        report: PassReport,
    ) -> None:
        super()._announce(conn, evaluations, subs, now, baseline, report)
        self._tick(len(evaluations))

    def _digest_card(self, sub: Sub, book: Book, period: str) -> Card:
        card = super()._digest_card(sub, book, period)
        self._tick(1)
        return card


@dataclass
class Step:
    label: str
    seconds: float
    count: int
    unit: str
    per_account: int | None = None  # accounts the step handled, for the last column


class Timer:
    """Runs each step on the clock, under cProfile with --profile."""

    def __init__(self, profile: bool) -> None:
        self.profile = profile

    def __call__(self, label: str, fn: Callable[[], T]) -> tuple[T, float]:
        profiler = cProfile.Profile() if self.profile else None
        t0 = time.perf_counter()
        result = profiler.runcall(fn) if profiler is not None else fn()
        elapsed = time.perf_counter() - t0
        if profiler is not None:
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(25)
                log(f"--- profile of {label}, by {order} ---\n{_trim(out.getvalue())}")
        return result, elapsed


def _trim(text: str) -> str:
    root = str(Path(__file__).resolve().parent.parent) + "/"
    lines = [line.replace(root, "") for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(lines[start:])


def own_and_renew(conn: Connection, n_accounts: int, end: date) -> None:
    """Give every account a CSM and an AE, and put every commit half-way through its year."""
    a = accounts.c
    conn.execute(
        accounts.update()
        .where(a.id == sa.bindparam("key"))
        .values(csm=sa.bindparam("csm_"), ae=sa.bindparam("ae_")),
        [
            {"key": f"acct-{i:06d}", "csm_": csm(i), "ae_": f"ae-{i % AES:02d}"}
            for i in range(n_accounts)
        ],
    )
    start = end - timedelta(days=182)
    conn.execute(contracts.update().values(start_date=start, end_date=start + timedelta(days=364)))


def subscribe(conn: Connection, channels: int, managers: int, now: datetime) -> dict[str, int]:
    """Subscribe the channels: a digest each, alerts on every other one, some manager digests."""
    kinds = {"digest": 0, "alerts": 0, "manager": 0}
    for i in range(channels):
        scope, value, owners = _scope(i)
        common: dict[str, Any] = {
            "platform": "slack",
            "channel": f"C{i:05d}",
            "created_by": "U-bench",
            "now": now,
            "scope": scope,
            "scope_value": value,
            "owner_handles": owners,
            "timezone": ZONES[i % len(ZONES)],
            "at_time": f"{7 + i % 4:02d}:{15 * (i % 4):02d}",
            "weekdays_only": i % 3 == 0,
        }
        chosen = ["digest"] + (["alerts"] if i % 2 else []) + (["manager"] if i < managers else [])
        for kind in chosen:
            quiet = ("20:00", "08:00") if kind == "alerts" and i % 4 == 1 else (None, None)
            upsert_subscription(conn, kind=kind, quiet_start=quiet[0], quiet_end=quiet[1], **common)
            kinds[kind] += 1
    return kinds


def _scope(i: int) -> tuple[str, str | None, tuple[str, ...]]:
    slot = i % 8
    if slot == 0:
        return "all", None, ()
    if slot in (1, 2):
        return "segment", SEGMENTS[i % len(SEGMENTS)], ()
    if slot in (3, 4):
        return "tier", TIERS[i % len(TIERS)], ()
    return "book", csm(i), (csm(i),)


def make_events(
    rng: random.Random, count: int, ids: Sequence[str], n_metrics: int, now: datetime
) -> list[dict[str, Any]]:
    """Events as a sender sends them (JSON-shaped), today (UTC) over the last hours."""
    midnight = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
    window = max(60.0, min(6 * 3600.0, (now - midnight).total_seconds() - 1))
    metrics = METRICS[:n_metrics]
    events = []
    for j in range(count):
        at = now - timedelta(seconds=rng.uniform(0, window))
        event: dict[str, Any] = {
            "id": f"bench-evt-{j:08d}",
            "account": rng.choice(ids),
            "timestamp": at.isoformat(),
            "metric": rng.choice(metrics),
            "quantity": round(rng.uniform(1, 50), 2),
            "user": f"user-{rng.randrange(40)}",
            "feature": rng.choice(FEATURES),
            "team": rng.choice(TEAMS),
        }
        if j % 5 == 0:
            event["success"] = rng.random() < 0.95
        events.append(event)
    return events


def ingest_events(engine: sa.Engine, events: Sequence[dict[str, Any]], batch: int) -> int:
    """validate + store, batch by batch, as the webhook does; return how many were accepted."""
    limits = IngestLimits(max_items=max(batch, 1))
    accepted = 0
    t0 = time.perf_counter()
    for first in range(0, len(events), batch):
        now = datetime.now(UTC)
        checked = payloads.validate("events", events[first : first + batch], now=now, limits=limits)
        if checked.errors:
            raise SystemExit(f"invalid bench events: {checked.errors[:3]}")
        result = ingest.store(engine, "events", checked.models, now=now)
        accepted += int(result["accepted"])
        done = min(first + batch, len(events))
        log(f"  ingested {done:,}/{len(events):,} events ({time.perf_counter() - t0:.1f} s)")
    return accepted


def pending_changes(engine: sa.Engine) -> int:
    with read_connection(engine) as conn:
        return len(alert_states.changed_accounts(conn))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--metrics", type=int, default=3, choices=range(1, len(METRICS) + 1))
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument(
        "--managers", type=int, default=0, help="how many channels also get a manager digest"
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument(
        "--changed",
        type=int,
        help="accounts the new events are spread over (default: 3000, at most 30%% of the book)",
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile each timed step")
    add_database_option(parser)
    args = parser.parse_args()
    on_scratch_database(args.database_url, lambda url: _run(url, args))


def _run(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    services = build_services(load_settings(database_url=url), engine=engine)
    config = services.settings.scoring_config()
    timer = Timer(args.profile)
    rng = random.Random(args.seed)
    n = args.accounts
    end = datetime.now(UTC).date() - timedelta(days=1)

    log(f"filling {n} accounts x {args.days} days x {args.metrics} metrics, up to {end}")
    t = time.perf_counter()
    rows = fill(engine, n, args.days, args.metrics, end)
    with write_transaction(engine) as conn:
        own_and_renew(conn, n, end)
        kinds = subscribe(conn, args.channels, args.managers, datetime.now(UTC))
    fill_s = time.perf_counter() - t

    def progress(label: str, total: int) -> Callable[[int], None]:
        done = [0]
        t0 = time.perf_counter()

        def tick(k: int) -> None:
            done[0] += k
            if done[0] % 1000 == 0 or done[0] == total:
                log(f"  {label}: {done[0]:,}/{total:,} accounts ({time.perf_counter() - t0:.1f} s)")

        return tick

    log(f"setup: scoring {end} and storing the snapshots")
    _, setup_s = timer(
        "setup score",
        lambda: scoring.score_day(
            engine,
            as_of=end,
            config=config,
            now=datetime.now(UTC),
            progress=progress("scored", n),
        ),
    )

    log("(1) scoring the book for one day, not stored")
    run, score_s = timer(
        "(1) score_day",
        lambda: scoring.score_day(
            engine,
            as_of=end,
            config=config,
            now=datetime.now(UTC),
            store=False,
            progress=progress("scored", n),
        ),
    )
    tiers = ", ".join(f"{k} {v}" for k, v in sorted(run.tiers().items()))

    jobs = ProgressJobs(services)
    log("(2) first alert pass: the silent baseline over every account")
    jobs.expect("baseline pass", n, every=500)
    baseline_words, baseline_s = timer("(2) alerts baseline", lambda: jobs.run("alerts"))

    spread = args.changed if args.changed is not None else max(1, min(3_000, n * 3 // 10))
    changed_ids = [f"acct-{i:06d}" for i in sorted(rng.sample(range(n), min(spread, n)))]
    events = make_events(rng, args.events, changed_ids, args.metrics, datetime.now(UTC))
    log(f"(i) ingesting {len(events):,} events for {len(changed_ids):,} accounts")
    accepted, ingest_s = timer("(i) ingest", lambda: ingest_events(engine, events, args.batch))
    changed = pending_changes(engine)

    log(f"(3) alert pass over the {changed:,} changed accounts")
    jobs.expect("changed pass", changed, every=500)

    def changed_passes() -> list[str]:
        words = []
        while pending_changes(engine):
            words.append(jobs.run("alerts"))
        return words

    pass_words, alerts_s = timer("(3) alerts changed", changed_passes)

    with read_connection(engine) as conn:
        digest_subs = [
            s for kind in ("digest", "manager") for s in list_subscriptions(conn, kind=kind)
        ]
        day = snapshots.latest_day(conn)
    log(f"(4) composing and queueing {len(digest_subs)} digests")
    jobs.expect("digests", len(digest_subs), every=20)
    digest_words, digests_s = timer(
        "(4) post_digests", lambda: jobs.post_digests(datetime.now(UTC), force=True)
    )
    assert day is not None
    book = read_book(engine, day, datetime.now(UTC))
    covered = [book.select(s) for s in digest_subs]
    lines = sum(len(c) for c in covered)
    distinct = len({s.account_id for c in covered for s in c})
    with read_connection(engine) as conn:
        queued = conn.execute(
            sa.select(outbox.c.kind, sa.func.count()).group_by(outbox.c.kind)
        ).all()

    steps = [
        Step("(1) score the book, one day", score_s, n, "accounts", n),
        Step("(2) alert pass, silent baseline", baseline_s, n, "accounts", n),
        Step(f"(i) ingest, batches of {args.batch:,}", ingest_s, len(events), "events"),
        Step("(3) alert pass, changed accounts", alerts_s, changed, "accounts", changed),
        Step("(4) compose + queue digests", digests_s, len(digest_subs), "digests", lines),
    ]
    print(
        f"machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cpu, "
        f"Python {platform.python_version()}, database: {engine.dialect.name}"
        f"{', under cProfile' if args.profile else ''}"
    )
    print(
        f"book: {n:,} accounts x {args.days} days x {args.metrics} metrics = {rows:,} rollup "
        f"rows up to {end}, filled in {fill_s:.0f} s; scored and stored in {setup_s:.1f} s "
        f"({tiers})"
    )
    print(
        f"subscriptions: {args.channels} channels, "
        + ", ".join(f"{v} {k}" for k, v in kinds.items() if v)
    )
    print()
    print(f"{'step':36} {'seconds':>9} {'count':>16} {'rate /s':>10} {'per account':>12}")
    per_account = score_s / n
    for s in steps:
        ratio = f"{'-':>12}"
        if s.per_account:
            times = s.seconds / s.per_account / per_account
            ratio = f"{times:11.2f}x" if times >= 0.1 else f"{times:11.4f}x"
        count = f"{s.count:,} {s.unit}"
        print(f"{s.label:36} {s.seconds:9.2f} {count:>16} {s.count / s.seconds:10,.0f} {ratio}")
    print()
    print(
        f"(1) {len(run.signals):,} accounts scored: {per_account * 1000:.2f} ms an account = 1.00x"
    )
    print(f"(2) {baseline_words}")
    print(f"(i) {accepted:,} of {len(events):,} events accepted; {changed:,} accounts changed")
    print(
        f"(3) {len(pass_words)} pass(es) (at most {MAX_CHANGED:,} accounts each): "
        + " | ".join(pass_words)
    )
    print(
        f"(4) {digest_words}; {digests_s / max(1, len(digest_subs)) * 1000:.1f} ms a digest; "
        f"they cover {lines:,} account lines ({distinct:,} distinct accounts; the last column "
        f"is per line); outbox: " + ", ".join(f"{n_} {k}" for k, n_ in queued)
    )
    engine.dispose()


if __name__ == "__main__":
    main()
