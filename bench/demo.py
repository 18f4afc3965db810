"""How long `steward demo` takes, phase by phase, on a fresh directory and on a re-run.

Run from the repository root:

    .venv/bin/python bench/demo.py [--accounts 200] [--seed 7] [--runs 3]

Each run, in a fresh temporary directory:

  (1) the demo in this process, as `steward demo --no-input` runs it, its output
      discarded: seconds per phase (generate the book, ingest it through validation
      and storage, score four weeks ago, a week ago and this morning with the
      alert passes, queue and deliver the digests, print everything including the
      backtest and one /health with its chart);
  (2) the same again on the same file: the reuse path (nothing ingested or scored);
  (3) `steward demo --no-input` as a subprocess on another fresh directory, wall
      clock from start to exit (interpreter start-up and imports included), then
      again on the same directory.

It prints the median of --runs runs for each figure; the issue's target is under
30 seconds for (3) on a small 2-core machine.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/digests.py shadows

from bot.cli.demo import DEFAULT_ACCOUNTS, DEFAULT_SEED, Options, run
from core.settings import load_settings

PHASES = ("generate", "ingest", "score", "jobs", "print")
STEWARD = str(Path(sys.executable).with_name("steward"))


def in_process(directory: Path, accounts: int, seed: int) -> dict[str, float]:
    """One demo run in this process; seconds per phase and in all."""
    options = Options(
        database=directory / "steward-demo.db",
        charts=directory / "charts",
        seed=seed,
        accounts=accounts,
    )
    sink = Console(file=io.StringIO(), width=100)
    started = time.perf_counter()
    demo, _ = run(load_settings(), options, out=sink, err=Console(file=io.StringIO()))
    total = time.perf_counter() - started
    demo.services.engine.dispose()
    return {**{p: demo.timings.phases.get(p, 0.0) for p in PHASES}, "total": total}


def as_subprocess(directory: Path, accounts: int, seed: int) -> float:
    """Wall-clock seconds of `steward demo --no-input` in a directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "DATABASE_URL"))}
    started = time.perf_counter()
    subprocess.run(
        [STEWARD, "demo", "--no-input", "--accounts", str(accounts), "--seed", str(seed)],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    first, again, cold, warm = [], [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            first.append(in_process(Path(tmp), args.accounts, args.seed))
            again.append(in_process(Path(tmp), args.accounts, args.seed))
        with tempfile.TemporaryDirectory() as tmp:
            cold.append(as_subprocess(Path(tmp), args.accounts, args.seed))
            warm.append(as_subprocess(Path(tmp), args.accounts, args.seed))
    print(
        f"steward demo, {args.accounts} accounts x 365 days, seed {args.seed}; "
        f"median of {args.runs} run(s); {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, {platform.machine()}"
    )
    print(f"{'phase':<10} {'first run':>10} {'re-run':>10}")
    for phase in (*PHASES, "total"):
        print(f"{phase:<10} {median(first, phase):>9.1f}s {median(again, phase):>9.1f}s")
    print(
        f"`steward demo --no-input` as a process: {statistics.median(cold):.1f} s fresh, "
        f"{statistics.median(warm):.1f} s reusing the database (target: under 30 s)"
    )


if __name__ == "__main__":
    main()
