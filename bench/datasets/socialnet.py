"""socialnet7: a simulated social network sold by monthly subscription, 2020-01 to 2020-06.

The simulation of the book "Fighting Churn With Data" (Carl Gold), made by the
ChurnSim code of the ``fightchurn`` package on PyPI with its ``socialnet7``
configuration: each subscriber draws monthly rates for eight events (post,
newfriend, like, adview, dislike, unfriend, message, reply) from a log-normal
model of one of three product channels, events are drawn day by day from those
rates, and at every monthly renewal the subscriber churns with a probability that
falls with the utility of its event counts (positive for posts and new friends,
negative for ad views, dislikes and unfriends). One plan, no upsell.

ChurnSim writes into PostgreSQL through hydra; here ``socialnet_sim.py`` replays
its simulation loop with the package's own classes, without a database, in a side
venv made once under the cache folder (``fightchurn`` without its ~40 pinned
dependencies, plus the five the simulation imports), seeded, and its CSV output
is kept there.

Outcome: an account whose subscription is active on the cut-off day "churned"
when that subscription ended without renewal within the horizon after it.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.datasets import Dataset

PACKAGE = "fightchurn==1.2.0"
# What fightchurn.churnsim's behavior, utility and customer modules import, with the
# package's own version constraints; its other dependencies (hydra, psycopg2, xgboost,
# ...) are for the database and the book's analyses, not the simulation.
DEPENDENCIES = [
    "pandas~=2.0",
    "numpy~=2.0",
    "omegaconf~=2.3",
    "filelock~=3.12",
    "python-dateutil~=2.8",
]
SIMULATOR = Path(__file__).with_name("socialnet_sim.py")
START = date(2020, 1, 1)  # socialnet7.yaml start_date
END = date(2020, 6, 1)  # socialnet7.yaml end_date: churn is decided up to this day


def side_python(cache: Path) -> Path:
    """The interpreter of a venv holding fightchurn (made once in ``cache``)."""
    venv = cache / "socialnet-venv"
    python = venv / "bin" / "python"
    ready = venv / ".ready"
    if not ready.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
        pip: list[str | Path] = [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]
        subprocess.run([*pip, *DEPENDENCIES], check=True)
        subprocess.run([*pip, "--no-deps", PACKAGE], check=True)
        ready.write_text(PACKAGE + "\n")
    return python


def simulate(cache: Path, *, accounts: int = 1200, seed: int = 7) -> Path:
    """The folder holding the simulation's CSV files (run once, then kept)."""
    folder = cache / f"socialnet7-{accounts}-{seed}"
    if not ((folder / "events.csv").exists() and (folder / "subscriptions.csv").exists()):
        python = side_python(cache)
        folder.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        with (folder / "simulation.log").open("w") as log:
            subprocess.run(
                [python, SIMULATOR, folder, "--accounts", str(accounts), "--seed", str(seed)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
            )
        print(f"socialnet7: simulated in {time.monotonic() - began:.0f}s", file=sys.stderr)
    return folder


@dataclass
class Subscriber:
    """One simulated account: its subscriptions joined end to end."""

    since: date
    end: date  # when the last subscription ends (exclusive)
    ends: list[tuple[date, date]]  # every subscription's (start, end)

    def active(self, day: date) -> tuple[date, date] | None:
        return next(((s, e) for s, e in self.ends if s <= day < e), None)


def subscribers(folder: Path) -> dict[str, Subscriber]:
    """Every simulated account, from subscriptions.csv."""
    out: dict[str, Subscriber] = {}
    with (folder / "subscriptions.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            account = f"sn{row['account_id']}"
            start = date.fromisoformat(row["start_date"])
            end = date.fromisoformat(row["end_date"])
            known = out.get(account)
            if known is None:
                out[account] = Subscriber(since=start, end=end, ends=[(start, end)])
            else:
                known.since = min(known.since, start)
                known.end = max(known.end, end)
                known.ends.append((start, end))
    return out


def build(
    cache: Path,
    *,
    cutoff: date = date(2020, 5, 1),
    horizon_days: int = 31,
    accounts: int = 1200,
    seed: int = 7,
) -> Dataset:
    """The simulated history up to ``cutoff`` as Steward files, and who churned after it."""
    end = cutoff + timedelta(days=horizon_days)
    if cutoff < START or end > END:
        raise ValueError(
            f"cut-off plus horizon must lie within {START}..{END}, not {cutoff}..{end}"
        )
    folder = simulate(cache, accounts=accounts, seed=seed)
    out_dir = folder / f"{cutoff}-{horizon_days}"
    out_dir.mkdir(parents=True, exist_ok=True)
    subs = subscribers(folder)
    last_day = cutoff.isoformat()

    events = out_dir / "events.jsonl"
    with (folder / "events.csv").open(newline="") as f, events.open("wb") as out:
        reader = csv.reader(f)
        next(reader)  # header
        for n, (account, stamp, event_type) in enumerate(reader):
            if stamp[:10] > last_day:
                continue
            event = {
                "id": f"socialnet7-{n}",
                "account": f"sn{account}",
                "timestamp": f"{stamp}Z",
                "metric": event_type,
                "quantity": 1,
            }
            out.write(orjson.dumps(event) + b"\n")

    known = sorted((a for a, s in subs.items() if s.since <= cutoff), key=lambda a: int(a[2:]))
    churned: dict[str, bool] = {}
    accounts_file = out_dir / "accounts.jsonl"
    with accounts_file.open("wb") as out:
        for account in known:
            sub = subs[account]
            record: dict[str, Any] = {
                "id": account,
                "name": f"Subscriber {account[2:]}",
                "customer_since": sub.since.isoformat(),
            }
            current = sub.active(cutoff)
            if current is not None:
                record["renewal_date"] = current[1].isoformat()  # the running month's end
                churned[account] = sub.end <= end
            elif sub.end <= cutoff:
                record["churned_date"] = sub.end.isoformat()
            out.write(orjson.dumps(record) + b"\n")

    return Dataset(
        name="socialnet7",
        source=(
            f"ChurnSim socialnet7 simulation from the {PACKAGE} package (book 'Fighting Churn "
            f"With Data'), {len(subs)} subscribers, seed {seed}, run without a database"
        ),
        events=events,
        accounts=accounts_file,
        cutoff=cutoff,
        horizon_days=horizon_days,
        churned=churned,
        expanded={},
        outcome=(
            "churned: the monthly subscription active on the cut-off day ended without renewal "
            f"within the {horizon_days} days after it (the simulator's own churn, drawn at each "
            "renewal from its utility model); expanded: not judged (one plan, no upsell)"
        ),
    )


def main(argv: list[str]) -> None:
    cache = Path(argv[0]) if argv else Path("/tmp/bench-cache")
    began = time.monotonic()
    dataset = build(cache)
    folder = simulate(cache)
    summary: dict[str, Any] = json.loads((folder / "summary.json").read_text())
    with dataset.accounts.open("rb") as f:
        n_accounts = sum(1 for _ in f)
    with dataset.events.open("rb") as f:
        n_events = sum(1 for _ in f)
    eligible = len(dataset.churned)
    churners = sum(dataset.churned.values())
    print(f"{dataset.name}: {dataset.source}")
    print(
        f"simulated: {summary['accounts']} accounts, {summary['events']} events, "
        f"{summary['subscriptions']} monthly subscriptions, {summary['churned']} churned, "
        f"{START}..{END} (init_customers {summary['config']['init_customers']}, "
        f"growth {summary['config']['growth_rate']}), generated in {summary['seconds']}s"
    )
    print(f"cut-off {dataset.cutoff}, horizon {dataset.horizon_days} days")
    print(f"accounts.jsonl: {n_accounts} accounts; events.jsonl: {n_events} events")
    print(
        f"eligible (active on the cut-off day): {eligible}; churned within the horizon: "
        f"{churners} ({churners / max(eligible, 1):.1%})"
    )
    print(f"outcome: {dataset.outcome}")
    print(f"built in {time.monotonic() - began:.1f}s")


if __name__ == "__main__":
    main(sys.argv[1:])
