"""Slash-command latency: /health, /value and /forecast against a large scored book.

Run from the repository root:

    .venv/bin/python bench/commands.py [--accounts 10000] [--days 365] [--metrics 3]
                                       [--calls 300] [--clients 4] [--database-url URL]
                                       [--charts]

It fills a fresh database with bench/score.py's book (--accounts accounts, each with a
commit and --days days x --metrics metrics of daily rollups), scores the last day and
stores the snapshots (commands answer from them, as in production), then serves Steward's
web app (`create_app`) with uvicorn on a loopback socket, next to a fake Slack Web API with
a fake response_url (tests/support/fakes/slack.py), all in this one process.

It then sends --calls signed slash commands, one at a time, cycling /health, /value and
/forecast over random accounts named the ways people type them: the exact name, the name in
lower case, a lower-case prefix ("acco": with fill()'s names, "Account <i>", every account
matches and the answer offers a choice) and a typo ("acocunt 42": fuzzy matching over every
name). For each call it records, on one monotonic clock:

  ack     from just before the request is sent to its HTTP response (Slack's limit: 3 s);
  answer  from the same start to the first POST on the call's response_url, the complete
          answer (the chart, when --charts is on, follows in a second POST and is timed
          separately as "chart").

Ten calls warm up first and are not counted. It prints p50 and p99 per command, per way of
naming and overall, in ms and as fractions of Slack's 3 seconds, and whether the target is
met: the complete answer's p99 under a tenth of the limit (300 ms). With --clients N > 1 a
second run sends --calls commands from N concurrent clients.

Without --database-url it runs on SQLite in a temporary directory; with a PostgreSQL URL it
creates and drops a scratch database on that server.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.score import add_database_option, fill, log, on_scratch_database
from bot.web import create_app
from core.settings import load_settings
from services import scoring
from services.container import build_services
from storage import migrate
from storage.db import make_engine
from tests.support.fakes.slack import FakeSlack
from tests.support.server import LiveServer
from tests.support.slack_signing import signed_headers, slash_command_body

LIMIT_S = 3.0  # Slack's acknowledgement limit
TARGET = 0.1  # the complete answer's p99, as a fraction of LIMIT_S
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-bench"
COMMANDS = ("/health", "/value", "/forecast")
NAMINGS = ("exact", "lower", "prefix", "typo")
NAMING_WEIGHTS = (0.5, 0.2, 0.15, 0.15)
WARMUP = 10
ANSWER_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Sample:
    command: str
    naming: str
    text: str
    ack_s: float
    answer_s: float
    chart_s: float | None
    status: int
    title: str


def query(rng: random.Random, n_accounts: int, naming: str) -> str:
    """How someone might name one of fill()'s accounts (all called ``Account <i>``)."""
    name = f"Account {rng.randrange(n_accounts)}"
    if naming == "exact":
        return name
    if naming == "lower":
        return name.lower()
    if naming == "prefix":  # matches every account: the answer offers a choice
        return "account"[: rng.randrange(3, 7)]
    word, number = name.lower().split()
    at = rng.randrange(1, len(word) - 1)  # a typo in the word, never in the first letter
    if rng.random() < 0.5:
        word = word[:at] + word[at + 1 :]
    else:
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return f"{word} {number}"


class Bench:
    """The served app, the fake Slack and a way to time one command."""

    def __init__(self, url: str, fake: FakeSlack) -> None:
        self.url = url
        self.fake = fake
        self._counter = 0
        self._lock = threading.Lock()

    def _name(self) -> str:
        with self._lock:
            self._counter += 1
            return f"call-{self._counter}"

    def call(
        self, client: httpx.Client, command: str, text: str, naming: str, charts: bool
    ) -> Sample:
        name = self._name()
        body = slash_command_body(command, text, response_url=self.fake.response_url(name))
        headers = signed_headers(body, SIGNING_SECRET)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        t0 = time.monotonic()
        response = client.post(f"{self.url}/slack/events", content=body, headers=headers)
        t_ack = time.monotonic()
        first = self.fake.wait_for_responses(name, 1, timeout=ANSWER_TIMEOUT_S)[0]
        title = str(first.get("text", ""))
        chart_s = None
        if charts and command == "/health" and ": health" in title:
            self.fake.wait_for_responses(name, 2, timeout=ANSWER_TIMEOUT_S)
        arrived = self._arrivals(name)
        if charts and command == "/health" and len(arrived) > 1:
            chart_s = arrived[1] - t0
        return Sample(
            command, naming, text, t_ack - t0, arrived[0] - t0, chart_s, response.status_code, title
        )

    def _arrivals(self, name: str) -> list[float]:
        with self.fake._lock:
            calls = list(self.fake.response_calls)
        return sorted(c.at for c in calls if c.method == name and c.failed_with is None)


def plan(rng: random.Random, n_accounts: int, count: int) -> list[tuple[str, str, str]]:
    """(command, text, naming) for ``count`` calls, cycling the commands."""
    calls = []
    for i in range(count):
        command = COMMANDS[i % len(COMMANDS)]
        naming = rng.choices(NAMINGS, NAMING_WEIGHTS)[0]
        text = query(rng, n_accounts, naming)
        if command == "/value" and rng.random() < 0.5:
            text += " 30d"
        calls.append((command, text, naming))
    return calls


def run_sequential(
    bench: Bench, calls: list[tuple[str, str, str]], charts: bool, label: str
) -> list[Sample]:
    samples = []
    with httpx.Client(timeout=30) as client:
        for i, (command, text, naming) in enumerate(calls, 1):
            samples.append(bench.call(client, command, text, naming, charts))
            if i % 50 == 0 or i == len(calls):
                log(f"  {label}: {i}/{len(calls)} calls")
    return samples


def run_concurrent(
    bench: Bench, calls: list[tuple[str, str, str]], charts: bool, clients: int
) -> tuple[list[Sample], float]:
    samples: list[Sample] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(share: list[tuple[str, str, str]]) -> None:
        try:
            with httpx.Client(timeout=30) as client:
                for command, text, naming in share:
                    sample = bench.call(client, command, text, naming, charts)
                    with lock:
                        samples.append(sample)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(calls[k::clients],), name=f"client-{k}")
        for k in range(clients)
    ]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return samples, wall


def _cell(values: list[float]) -> str:
    if not values:
        return f"{'-':>25}"
    p50, p99 = np.percentile(values, [50, 99])
    return f"{p50 * 1000:6.1f} {p99 * 1000:7.1f} ms {p50 / LIMIT_S:5.3f} {p99 / LIMIT_S:5.3f}"


def table(samples: list[Sample], charts: bool) -> list[str]:
    head = (
        f"{'':18} {'n':>4}   {'ack p50   p99':>15}    {'of 3 s':>11}   "
        f"{'answer p50   p99':>15}    {'of 3 s':>11}"
    )
    if charts:
        head += f"   {'chart p50   p99':>15}    {'of 3 s':>11}"
    lines = [head]
    groups: list[tuple[str, list[Sample]]] = [
        (c, [s for s in samples if s.command == c]) for c in COMMANDS
    ]
    groups += [(f"  named {n}", [s for s in samples if s.naming == n]) for n in NAMINGS]
    groups.append(("all", samples))
    for label, group in groups:
        line = (
            f"{label:18} {len(group):4}   {_cell([s.ack_s for s in group])}   "
            f"{_cell([s.answer_s for s in group])}"
        )
        if charts:
            line += f"   {_cell([s.chart_s for s in group if s.chart_s is not None])}"
        lines.append(line)
    return lines


def outcomes(samples: list[Sample]) -> str:
    """What the answers said: an account's card, a choice of accounts, no match, or else."""
    kinds = {"answered": 0, "offered a choice": 0, "no match": 0, "other": 0}
    for s in samples:
        if "matches several accounts" in s.title:
            kinds["offered a choice"] += 1
        elif s.title.startswith("No account matches"):
            kinds["no match"] += 1
        elif s.title.startswith("Account "):
            kinds["answered"] += 1
        else:
            kinds["other"] += 1
    return ", ".join(f"{v} {k}" for k, v in kinds.items() if v)


def verdict(samples: list[Sample]) -> str:
    p99 = float(np.percentile([s.answer_s for s in samples], 99))
    met = p99 < TARGET * LIMIT_S
    return (
        f"target: complete answer p99 < {TARGET} of 3 s ({TARGET * LIMIT_S * 1000:.0f} ms): "
        f"{'MET' if met else 'MISSED'} (p99 {p99 * 1000:.1f} ms = {p99 / LIMIT_S:.3f} of 3 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--metrics", type=int, default=3, choices=range(1, 6))
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument(
        "--clients", type=int, default=4, help="concurrent clients of a second run (0: none)"
    )
    parser.add_argument("--charts", action="store_true", help="also upload /health's chart")
    parser.add_argument("--seed", type=int, default=11)
    add_database_option(parser)
    args = parser.parse_args()
    on_scratch_database(args.database_url, lambda url: _run(url, args))


def _run(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    end = datetime.now(UTC).date() - timedelta(days=1)
    settings = load_settings(
        database_url=url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_charts=args.charts,
    )
    log(f"filling {args.accounts} accounts x {args.days} days x {args.metrics} metrics")
    t = time.perf_counter()
    rows = fill(engine, args.accounts, args.days, args.metrics, end)
    fill_s = time.perf_counter() - t
    log(f"scoring {end}")
    t = time.perf_counter()
    run = scoring.score_day(
        engine, as_of=end, config=settings.scoring_config(), now=datetime.now(UTC), store=True
    )
    score_s = time.perf_counter() - t
    rng = random.Random(args.seed)
    with FakeSlack(bot_token=BOT_TOKEN) as fake:
        fake.add_user("U123", name="casey", email="casey@example.com")
        fake.add_channel("C123", name="cs-team")
        settings = settings.model_copy(update={"slack_api_url": fake.base_url})
        services = build_services(settings, engine=engine)
        with LiveServer(create_app(services)) as server:
            bench = Bench(server.url, fake)
            log(f"warming up ({WARMUP} calls)")
            run_sequential(bench, plan(rng, args.accounts, WARMUP), args.charts, "warm-up")
            log(f"{args.calls} calls, one at a time")
            samples = run_sequential(
                bench, plan(rng, args.accounts, args.calls), args.charts, "sequential"
            )
            concurrent: list[Sample] = []
            wall = 0.0
            if args.clients > 1:
                log(f"{args.calls} calls from {args.clients} concurrent clients")
                concurrent, wall = run_concurrent(
                    bench, plan(rng, args.accounts, args.calls), args.charts, args.clients
                )
    _report(args, engine.dialect.name, rows, fill_s, score_s, run, samples, concurrent, wall)
    engine.dispose()


def _report(
    args: argparse.Namespace,
    dialect: str,
    rows: int,
    fill_s: float,
    score_s: float,
    run: scoring.ScoreRun,
    samples: list[Sample],
    concurrent: list[Sample],
    wall: float,
) -> None:
    print(
        f"machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cpu, "
        f"Python {platform.python_version()}, database: {dialect}"
    )
    print(
        f"book: {args.accounts} accounts x {args.days} days x {args.metrics} metrics = "
        f"{rows:,} rollup rows, filled in {fill_s:.0f} s; last day scored and stored in "
        f"{score_s:.1f} s ({_scored(run)})"
    )
    print(f"charts: {'on (/health uploads one, timed as chart)' if args.charts else 'off'}")
    bad = [s for s in samples + concurrent if s.status != 200]
    if bad:
        print(f"WARNING: {len(bad)} calls not acknowledged with 200: {bad[:3]}")
    print()
    print(f"{len(samples)} calls, one at a time ({outcomes(samples)}); times in ms and of 3 s:")
    for line in table(samples, args.charts):
        print("  " + line)
    print(verdict(samples))
    if concurrent:
        print()
        print(
            f"{len(concurrent)} calls from {args.clients} concurrent clients in {wall:.1f} s "
            f"({len(concurrent) / wall:.1f} calls/s; {outcomes(concurrent)}):"
        )
        for line in table(concurrent, args.charts):
            print("  " + line)
        print(verdict(concurrent))


def _scored(run: scoring.ScoreRun) -> str:
    return f"{len(run.signals)} accounts"


if __name__ == "__main__":
    main()
