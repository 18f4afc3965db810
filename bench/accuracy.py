"""Accuracy on real histories: import -> calibrate -> score -> compare with simple baselines.

Run from the repository root:

    .venv/bin/python bench/accuracy.py [--datasets cdnow,socialnet] [--cache .cache/bench]
                                       [--bootstrap 1000] [--no-calibrate]

For each dataset (see bench/datasets/: data that ships inside PyPI packages, cut
at a day, with the outcome the dataset itself records), a fresh SQLite database
goes through exactly what the README tells a new user to do, each step a real
`steward` process:

    steward import accounts.jsonl --kind accounts
    steward import events.jsonl --kind events
    steward calibrate
    steward scores --as-of <cut-off> --format csv

and the exported churn risk, 100 - health score and expansion likelihood are
ranked against what happened after the cut-off, beside simple baselines computed
here, in the same run, from the same files:

- days since last use (recency), low 28-day volume, falling 28-day trend,
  few active days in 90;
- a logistic regression on per-metric (per event type) 28-day counts, scored by
  5-fold cross-validation on the judged accounts themselves (it sees the outcome
  it is judged on, in other folds: an optimistic baseline);
- BG/NBD P(alive) and expected active days in the horizon, fitted here on the same
  history (P(alive) is 1 for anyone who never came back: it ranks those last).

AUCs come with a 95% bootstrap interval (resampling accounts); the last column is
the shipped score minus the best baseline, with its paired-bootstrap interval.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.datasets import Dataset
from signals.bgnbd import fit as fit_bgnbd
from signals.calibrate import fit_logistic

Array = npt.NDArray[np.float64]
ROOT = Path(__file__).resolve().parent.parent
STEWARD = str(Path(sys.executable).with_name("steward"))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


SETTINGS: dict[str, dict[str, object]] = {
    # 3,000 subscribers and two months of outcomes: the simulator's churn is ~2% a month,
    # and 30 churners would leave the AUC's interval wider than any difference worth seeing
    "socialnet": {"accounts": 3000, "cutoff": date(2020, 4, 1), "horizon_days": 61},
}


def datasets(names: Sequence[str], cache: Path) -> list[Dataset]:
    """Build the named datasets (each module's ``build``, with SETTINGS)."""
    out = []
    for name in names:
        module = __import__(f"bench.datasets.{name}", fromlist=["build"])
        build: Callable[..., Dataset] = module.build
        started = time.perf_counter()
        out.append(build(cache, **SETTINGS.get(name, {})))
        log(f"{name}: built in {time.perf_counter() - started:.1f} s")
    return out


def steward(args: Sequence[str], env: dict[str, str]) -> str:
    """Run one steward command as a user would; its output, or exit with its error."""
    started = time.perf_counter()
    done = subprocess.run(
        [STEWARD, *args], env=env, capture_output=True, text=True, check=False, cwd=env["HOME"]
    )
    log(f"  steward {' '.join(args)}: {time.perf_counter() - started:.1f} s (rc {done.returncode})")
    if done.returncode != 0:
        log(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"steward {args[0]} failed")
    return done.stdout


def run_steward(ds: Dataset, work: Path, calibrate: bool) -> tuple[dict[str, dict[str, str]], str]:
    """Import, calibrate and export scores at the cut-off; the rows and calibrate's report."""
    (work / "steward.toml").write_text("# written by steward calibrate\n", encoding="utf-8")
    env = {
        **os.environ,
        "HOME": str(work),
        "DATABASE_URL": f"sqlite:///{work / 'steward.db'}",
        "STEWARD_CONFIG": str(work / "steward.toml"),
        "NO_COLOR": "1",
        "COLUMNS": "160",
    }
    steward(["import", str(ds.accounts), "--kind", "accounts"], env)
    steward(["import", str(ds.events), "--kind", "events"], env)
    report = steward(["calibrate"], env) if calibrate else ""
    out = work / "scores.csv"
    steward(
        ["scores", "--as-of", ds.cutoff.isoformat(), "--format", "csv", "--output", str(out)], env
    )
    with out.open(newline="") as f:
        return {row["account_id"]: row for row in csv.DictReader(f)}, report


@dataclass
class History:
    """Per-account daily event counts per metric, up to the cut-off (from the events file)."""

    days: dict[str, dict[date, dict[str, float]]]
    metrics: list[str]


def read_history(ds: Dataset) -> History:
    days: dict[str, dict[date, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    metrics: set[str] = set()
    with ds.events.open("rb") as f:
        for line in f:
            e = orjson.loads(line)
            day = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).date()
            per = days[e["account"]][day]
            per[e["metric"]] = per.get(e["metric"], 0.0) + 1.0
            metrics.add(e["metric"])
    return History(days, sorted(metrics))


def baselines(ds: Dataset, hist: History, ids: list[str]) -> dict[str, Array]:
    """Each baseline's churn score (higher = more likely to churn) for the judged accounts."""
    cut = ds.cutoff
    recency, low28, trend, active90 = [], [], [], []
    counts = np.zeros((len(ids), len(hist.metrics)))
    x, t_x, t_age = [], [], []
    for i, account in enumerate(ids):
        days = hist.days.get(account, {})
        active = sorted(d for d in days if d <= cut)
        last = active[-1] if active else None
        recency.append(float((cut - last).days) if last else 1e4)
        v28 = sum(sum(days[d].values()) for d in active if (cut - d).days < 28)
        v_prev = sum(sum(days[d].values()) for d in active if 28 <= (cut - d).days < 56)
        low28.append(-v28)
        trend.append(-math.log((v28 + 1) / (v_prev + 1)))
        active90.append(-float(sum(1 for d in active if (cut - d).days < 90)))
        for d in active:
            if (cut - d).days < 28:
                for m, n in days[d].items():
                    counts[i, hist.metrics.index(m)] += n
        if active:
            x.append(len(active) - 1.0)
            t_x.append(float((active[-1] - active[0]).days))
            t_age.append(float((cut - active[0]).days))
        else:
            x.append(0.0)
            t_x.append(0.0)
            t_age.append(0.0)
    y = np.array([ds.churned[a] for a in ids], dtype=np.float64)
    out = {
        "days since last use": np.array(recency),
        "low 28-day volume": np.array(low28),
        "falling 28-day trend": np.array(trend),
        "few active days in 90": np.array(active90),
        "per-metric logistic (5-fold CV)": cross_validated(np.log1p(counts), y),
    }
    model = fit_bgnbd(np.array(x), np.array(t_x), np.array(t_age))
    if model is not None:
        horizon = ds.horizon_days
        out["BG/NBD P(alive)"] = np.array(
            [-model.p_alive(a, b, c) for a, b, c in zip(x, t_x, t_age, strict=True)]
        )
        out["BG/NBD expected activity"] = np.array(
            [-model.expected(horizon, a, b, c) for a, b, c in zip(x, t_x, t_age, strict=True)]
        )
    return out


def cross_validated(features: Array, y: Array, folds: int = 5) -> Array:
    """Out-of-fold logistic scores on standardised features."""
    rng = np.random.default_rng(0)
    fold = rng.integers(0, folds, len(y))
    out = np.zeros(len(y))
    for k in range(folds):
        train, test = fold != k, fold == k
        mean, std = features[train].mean(axis=0), features[train].std(axis=0)
        std[std < 1e-9] = 1.0
        design = np.hstack([np.ones((len(y), 1)), (features - mean) / std])
        w = fit_logistic(design[train], y[train], l2=1.0)
        out[test] = design[test] @ w
    return out


def auc(scores: Array, y: Array) -> float:
    """ROC AUC with ties counted half (Mann-Whitney)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = float(y.sum())
    neg = len(y) - pos
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def bootstrap(
    scores: dict[str, Array], y: Array, draws: int, shipped: str, best: str
) -> dict[str, tuple[float, float]]:
    """95% intervals of every AUC, and of shipped minus best (paired: same resamples)."""
    rng = np.random.default_rng(1)
    samples: dict[str, list[float]] = defaultdict(list)
    n = len(y)
    for _ in range(draws):
        idx = rng.integers(0, n, n)
        yy = y[idx]
        if yy.min() == yy.max():
            continue
        values = {name: auc(s[idx], yy) for name, s in scores.items()}
        for name, value in values.items():
            samples[name].append(value)
        samples["difference"].append(values[shipped] - values[best])
    return {
        name: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)))
        for name, v in samples.items()
    }


def evaluate(ds: Dataset, draws: int, calibrate: bool) -> None:
    with tempfile.TemporaryDirectory(prefix=f"steward-accuracy-{ds.name}-") as folder:
        rows, report = run_steward(ds, Path(folder), calibrate)
    hist = read_history(ds)
    ids = [a for a in ds.churned if a in rows]
    y = np.array([ds.churned[a] for a in ids], dtype=np.float64)
    shipped = {
        "Steward churn risk": np.array([float(rows[a]["churn_risk"]) for a in ids]),
        "Steward 100 - health": np.array([100 - float(rows[a]["health_score"]) for a in ids]),
    }
    simple = baselines(ds, hist, ids)
    scores = shipped | simple
    values = {name: auc(s, y) for name, s in scores.items()}
    best = max(simple, key=lambda k: values[k])
    intervals = bootstrap(scores, y, draws, "Steward churn risk", best)
    print(f"\n## {ds.name}: {ds.source}")
    print(
        f"cut-off {ds.cutoff}, horizon {ds.horizon_days} days; {len(ids)} accounts judged, "
        f"{int(y.sum())} churned ({y.mean():.0%}); outcome: {ds.outcome}"
    )
    if report:
        print("\nsteward calibrate said:\n" + "\n".join("    " + r for r in report.splitlines()))
    print("\n| churn predictor | AUC | 95% interval |")
    print("| --- | --- | --- |")
    for name, value in sorted(values.items(), key=lambda kv: -kv[1]):
        lo, hi = intervals[name]
        print(f"| {name} | {value:.3f} | {lo:.3f}-{hi:.3f} |")
    lo, hi = intervals["difference"]
    diff = values["Steward churn risk"] - values[best]
    print(
        f"\nshipped churn risk - best baseline ({best}): {diff:+.3f} (95% {lo:+.3f} to {hi:+.3f})"
    )
    if ds.expanded:
        grown = [a for a in ids if a in ds.expanded]
        ye = np.array([ds.expanded[a] for a in grown], dtype=np.float64)
        if 0 < ye.sum() < len(ye):
            likely = np.array([float(rows[a]["expansion_likelihood"]) for a in grown])
            volume = -simple["low 28-day volume"][[ids.index(a) for a in grown]]
            print(
                f"expansion ({int(ye.sum())} of {len(ye)}): Steward likelihood AUC "
                f"{auc(likely, ye):.3f}; high 28-day volume {auc(volume, ye):.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cdnow,socialnet")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "bench")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--no-calibrate", action="store_true", help="score with the defaults")
    parser.add_argument(
        "--accounts", type=int, default=0, help="the simulated datasets' size (socialnet: 3000)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=7,
        help="the simulated datasets' seed (socialnet): another "
        "seed is another book of the same shape, to see whether a difference holds",
    )
    args = parser.parse_args()
    SETTINGS["socialnet"]["seed"] = args.seed
    if args.accounts:
        SETTINGS["socialnet"]["accounts"] = args.accounts
    for ds in datasets(args.datasets.split(","), args.cache):
        evaluate(ds, args.bootstrap, not args.no_calibrate)


if __name__ == "__main__":
    main()
