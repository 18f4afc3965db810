"""Run the signals over the stored book: daily snapshots, backtests and calibration.

The one place where storage meets ``signals/``: read plain records, call the pure
functions, write snapshots back. The CLI and the worker's jobs call these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine

from core import metrics
from signals.alerts import Alert
from signals.backtest import (
    Baselines,
    Outcome,
    PredictorResult,
    baselines,
    compare,
    lift_by_decile,
    outcome,
)
from signals.challengers import bgnbd_expected, metric_counts_cv
from signals.config import ScoringConfig
from signals.evaluate import AccountSignals, score_account, score_book, to_snapshot
from signals.features import LOOKBACK_DAYS, AccountFeatures, extract
from signals.model import AccountData, ScoringError
from storage import snapshots
from storage.book import data_span, stream
from storage.db import read_connection, write_transaction

REPLAY_CHUNK_DAYS = 7  # days scored from one read of the book (~4 KB per account-day)
Progress = Callable[[int], None]


def no_progress(_: int) -> None:
    """A progress callback that reports nothing."""


@dataclass
class ScoreRun:
    """What one day's scoring produced."""

    as_of: date
    signals: list[AccountSignals] = field(default_factory=list)

    @property
    def alerts(self) -> list[Alert]:
        """Every alert raised (or resolved) by this run."""
        return [a for s in self.signals for a in s.alerts]

    def bands(self) -> Counter[str]:
        """Accounts per health band."""
        return Counter(s.health.band for s in self.signals)

    def tiers(self) -> Counter[str]:
        """Accounts per tier."""
        return Counter(s.tier.state.tier for s in self.signals)


def score_day(
    engine: Engine,
    *,
    as_of: date,
    config: ScoringConfig,
    now: datetime,
    progress: Progress = no_progress,
    store: bool = True,
    account_ids: Sequence[str] | None = None,
) -> ScoreRun:
    """Score every account (or those named) as of one day from the data up to it."""
    with metrics.SCORING_SECONDS.time():
        since = as_of - timedelta(days=LOOKBACK_DAYS)
        features = [
            _extract(data, as_of, config, progress)
            for data in stream(
                engine, since=since, until=as_of, account_ids=account_ids, scored_from=as_of
            )
        ]
        return _score_features(engine, as_of, features, config, now=now, store=store)


def score_range(
    engine: Engine,
    *,
    first: date,
    last: date,
    config: ScoringConfig,
    now: datetime,
    progress: Progress = no_progress,
) -> ScoreRun:
    """Score every day from first to last in order, each from the data up to it.

    Each day builds on the one before (tiers, alerts, the week's change). The book
    is read once per REPLAY_CHUNK_DAYS days rather than once a day: every signal
    ignores data after its day, so one read serves the whole chunk.
    """
    if first > last:
        raise ScoringError("The first day to score is after the last.")
    run = ScoreRun(last)
    start = first
    while start <= last:
        days = [start + timedelta(days=i) for i in range(REPLAY_CHUNK_DAYS)]
        days = [d for d in days if d <= last]
        features: dict[date, list[AccountFeatures]] = {d: [] for d in days}
        since = start - timedelta(days=LOOKBACK_DAYS)
        for data in stream(engine, since=since, until=days[-1], scored_from=start):
            for day in days:
                features[day].append(_extract(data, day, config, progress))
        for day in days:
            run = _score_features(engine, day, features.pop(day), config, now=now, store=True)
        start = days[-1] + timedelta(days=1)
    return run


def evaluate_now(
    engine: Engine,
    *,
    account_ids: Sequence[str],
    as_of: date,
    config: ScoringConfig,
) -> list[AccountSignals]:
    """Evaluate some accounts as of a day from their data so far, without storing anything.

    The near-real-time alert pass: peers are not recomputed for a few accounts; each
    keeps the standing of its latest snapshot. Tiers and the week's change build on the
    latest snapshot before ``as_of`` and the one a week earlier, as in a daily run.
    """
    if not account_ids:
        return []
    since = as_of - timedelta(days=LOOKBACK_DAYS)
    with read_connection(engine) as conn:
        last = snapshots.latest_day(conn)
        if last is not None and last >= as_of:
            last = as_of - timedelta(days=1)
        previous = snapshots.snapshots_on(conn, day=last, account_ids=account_ids) if last else {}
        week_ago = snapshots.snapshots_on(
            conn, day=as_of - timedelta(days=7), account_ids=account_ids
        )
    out = []
    for data in stream(
        engine, since=since, until=as_of, account_ids=account_ids, scored_from=as_of
    ):
        before = previous.get(data.account.id)
        peer = before.components.get("peer") if before else None
        features = extract(data, as_of, config).with_peer(None if peer is None else peer / 100)
        out.append(score_account(features, config, before, week_ago.get(data.account.id)))
    return out


def _score_features(
    engine: Engine,
    as_of: date,
    features: list[AccountFeatures],
    config: ScoringConfig,
    *,
    now: datetime,
    store: bool,
) -> ScoreRun:
    """Score a day's features against the earlier snapshots, and keep the new ones."""
    with read_connection(engine) as conn:
        previous = snapshots.latest_snapshots_before(conn, day=as_of)
        week_ago = snapshots.snapshots_on(conn, day=as_of - timedelta(days=7))
    signals = score_book(features, config, previous=previous, week_ago=week_ago)
    if store:
        with write_transaction(engine) as conn:
            snapshots.write_snapshots(conn, (to_snapshot(s) for s in signals), computed_at=now)
    return ScoreRun(as_of, signals)


def _extract(
    data: AccountData, as_of: date, config: ScoringConfig, progress: Progress
) -> AccountFeatures:
    features = extract(data, as_of, config)
    progress(1)
    return features


@dataclass(frozen=True)
class BacktestResult:
    """How the scores at a cut-off ranked what happened over the horizon."""

    as_of: date
    horizon_days: int
    accounts: int  # eligible accounts
    churned: int
    expanded: int
    results: list[PredictorResult]
    churn_deciles: list[tuple[int, int, int, float]]  # decile, accounts, churned, lift
    expansion_deciles: list[tuple[int, int, int, float]]
    health_scores: list[float] = field(default_factory=list)  # each judged account's, at as_of

    def model(self, target: str) -> PredictorResult | None:
        """The model's result for 'churn' or 'expansion'."""
        return next((r for r in self.results if r.target == target and r.is_model), None)

    def best_baseline(self, target: str) -> PredictorResult | None:
        """The strongest simple baseline for a target."""
        base = [r for r in self.results if r.target == target and r.kind == "baseline" and r.auc]
        return max(base, key=lambda r: r.auc or 0.0) if base else None


def check_horizon(engine: Engine, as_of: date, horizon_days: int) -> None:
    """Refuse a cut-off whose horizon runs past the stored data."""
    span = data_span(engine)
    if span is None:
        raise ScoringError("No usage stored yet: nothing to backtest.")
    end = as_of + timedelta(days=horizon_days)
    if end > span[1]:
        latest = span[1] - timedelta(days=horizon_days)
        raise ScoringError(
            f"A {horizon_days}-day horizon after {as_of} needs data until {end}; stored usage "
            f"ends on {span[1]}. Use --as-of {latest} or earlier, or a shorter --horizon."
        )
    if as_of - timedelta(days=56) < span[0]:
        raise ScoringError(
            f"The cut-off {as_of} leaves under 8 weeks of history (usage starts {span[0]})."
        )


def backtest(
    engine: Engine,
    *,
    as_of: date,
    horizon_days: int,
    config: ScoringConfig,
    progress: Progress = no_progress,
) -> BacktestResult:
    """Score every account with the data before the cut-off, then label what came after."""
    check_horizon(engine, as_of, horizon_days)
    features, outcomes, simple = [], [], []
    until = as_of + timedelta(days=horizon_days)
    since = as_of - timedelta(days=LOOKBACK_DAYS)
    for data in stream(engine, since=since, until=until, scored_from=as_of):
        progress(1)
        result = outcome(data, as_of, horizon_days)
        if not result.eligible:
            continue
        features.append(extract(data, as_of, config))
        outcomes.append(result)
        simple.append(baselines(data, as_of))
    signals = score_book(features, config)
    return _report(as_of, horizon_days, signals, outcomes, simple)


def _report(
    as_of: date,
    horizon_days: int,
    signals: Sequence[AccountSignals],
    outcomes: Sequence[Outcome],
    simple: Sequence[Baselines],
) -> BacktestResult:
    churn = [o.churned for o in outcomes]
    grow = [o.expanded for o in outcomes]
    features = [s.features for s in signals]
    active = [float(f.activity.active_days[90]) for f in features]
    expected = bgnbd_expected(features, horizon_days) or []
    risk = [s.churn.probability for s in signals]
    likely = [s.expansion.probability for s in signals]
    health_risk = [100.0 - s.health.score for s in signals]
    quiet = [b.days_since_last_use for b in simple]
    volume = [b.volume_28d for b in simple]
    trend = [b.trend_28d for b in simple]
    results = compare(
        "churn",
        churn,
        [
            ("churn risk", risk, "model"),
            ("100 - health score", health_risk, "score"),
            ("days since last use", quiet, "baseline"),
            ("low last-28-day volume", [-v for v in volume], "baseline"),
            ("falling 28-day trend", [-t for t in trend], "baseline"),
            ("few active days in 90", [-a for a in active], "baseline"),
            ("per-metric counts (5-fold CV)", metric_counts_cv(features, churn), "baseline"),
            *(
                [("BG/NBD: little activity expected", [-e for e in expected], "baseline")]
                if expected
                else []
            ),
        ],
    ) + compare(
        "expansion",
        grow,
        [
            ("expansion likelihood", likely, "model"),
            ("health score", [s.health.score for s in signals], "score"),
            ("recent use (few idle days)", [-q for q in quiet], "baseline"),
            ("high last-28-day volume", volume, "baseline"),
            ("rising 28-day trend", trend, "baseline"),
            ("many active days in 90", active, "baseline"),
            ("per-metric counts (5-fold CV)", metric_counts_cv(features, grow), "baseline"),
            *([("BG/NBD: much activity expected", expected, "baseline")] if expected else []),
        ],
    )
    return BacktestResult(
        as_of=as_of,
        horizon_days=horizon_days,
        accounts=len(outcomes),
        churned=sum(churn),
        expanded=sum(grow),
        results=results,
        churn_deciles=[
            (d.decile, d.accounts, d.positives, d.lift) for d in lift_by_decile(risk, churn)
        ],
        expansion_deciles=[
            (d.decile, d.accounts, d.positives, d.lift) for d in lift_by_decile(likely, grow)
        ],
        health_scores=[s.health.score for s in signals],
    )
