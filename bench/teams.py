"""Teams message latency: `health`, `value` and `forecast` through /api/messages.

Run from the repository root:

    .venv/bin/python bench/teams.py [--accounts 2000] [--days 365] [--calls 200]
                                    [--charts] [--database-url URL]

It fills a fresh database with bench/score.py's book, scores the last day, and serves
Steward's web app with uvicorn on loopback next to the fake Bot Framework of
tests/support/fakes/teams.py (OpenID metadata, signing keys, token endpoint and Bot Connector), all
in this one process. Each call is a personal-chat message signed with a Bot Framework token,
timed from just before the POST to its HTTP response: by then Steward has validated the
token, checked the tenant and the roster, stored the conversation reference, answered and
posted the Adaptive Card to the fake connector. Like Teams, the client keeps its connection
alive and signs its token once. Ten calls warm up first (the first fetches the keys and an
access token) and are not counted.

Baseline, measured in the same run over the same commands: the neutral handler called
in-process (`handlers.chat.commands.handle`), so the ratio is what Teams adds around the answer.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.score import add_database_option, fill, log, on_scratch_database
from handlers.chat.commands import handle
from handlers.chat.context import CommandRequest, Context, Person
from services import scoring
from signals.config import ScoringConfig
from storage import migrate
from storage.db import make_engine
from tests.support.fakes.teams import FakeBotFramework
from tests.support.teams_world import CASEY, PERSONAL, member, serve_teams

WARMUP = 10
COMMANDS = ("health", "value", "forecast")


def plan(rng: random.Random, accounts: int, count: int) -> list[tuple[str, str]]:
    """(command, account name) pairs: fill() names accounts "Account <i>"."""
    return [(COMMANDS[i % 3], f"Account {rng.randrange(accounts)}") for i in range(count)]


def _ms(values: list[float]) -> str:
    p50, p99 = np.percentile(np.array(values) * 1000, [50, 99])
    return f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"


def _run(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    end = datetime.now(UTC).date() - timedelta(days=1)
    log(f"filling {args.accounts} accounts x {args.days} days x 3 metrics")
    fill(engine, args.accounts, args.days, 3, end)
    scoring.score_day(engine, as_of=end, config=_config(), now=datetime.now(UTC), store=True)
    rng = random.Random(args.seed)
    calls = plan(rng, args.accounts, args.calls)
    with FakeBotFramework() as fake:
        member(fake, PERSONAL, CASEY)
        extra = {} if args.charts else {"public_url": None}
        with serve_teams(engine, url, fake, **extra) as (services, client):
            for command, name in plan(rng, args.accounts, WARMUP):
                client.say(f"{command} {name}")
            teams: list[float] = []
            signed = {"Authorization": fake.authorization()}  # signed once, as Teams caches it
            with httpx.Client(base_url=client.url, timeout=30) as http:  # kept-alive, as Teams
                for command, name in calls:
                    body = client.activity(text=f"{command} {name}")
                    started = time.perf_counter()
                    response = http.post("/api/messages", json=body, headers=signed)
                    teams.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text
            replies = len(fake.activities(PERSONAL, kind="reply"))
            assert replies == WARMUP + len(calls), replies
            ctx = Context(engine=engine, config=_config(), now=datetime.now(UTC))
            asker = Person("aad-casey", email=CASEY["email"], name=CASEY["name"])
            direct: list[float] = []
            for command, name in calls:
                started = time.perf_counter()
                handle(CommandRequest(command, name, asker), ctx)
                direct.append(time.perf_counter() - started)
            del services
    teams_p99 = float(np.percentile(teams, 99))
    direct_p99 = float(np.percentile(direct, 99))
    print(
        f"\nTEAMS ({engine.dialect.name}, {args.accounts} accounts, {args.calls} calls, "
        f"charts {'on' if args.charts else 'off'})"
    )
    print(f"  handler in-process (baseline) {_ms(direct)}")
    print(f"  Teams round trip              {_ms(teams)}")
    print(
        f"  ratio p50 {np.percentile(teams, 50) / np.percentile(direct, 50):.2f}x, "
        f"p99 {teams_p99 / direct_p99:.2f}x; p99 as a share of Teams' 15 s: "
        f"{teams_p99 / 15:.4f}"
    )
    engine.dispose()


def _config() -> ScoringConfig:
    return ScoringConfig.from_mapping({})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--charts", action="store_true", help="draw and store /health's chart")
    parser.add_argument("--seed", type=int, default=11)
    add_database_option(parser)
    args = parser.parse_args()
    on_scratch_database(args.database_url, lambda url: _run(url, args))


if __name__ == "__main__":
    main()
