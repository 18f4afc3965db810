"""`steward calibrate`: fit the score to the book's own history, validated out of time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import tomlkit
from sqlalchemy.engine import Engine

from services.scoring import BacktestResult, Progress, backtest, no_progress
from signals.backtest import outcome
from signals.calibrate import (
    TrainingRow,
    feature_names,
    fit_health_weights,
    fit_model,
    metric_weights,
)
from signals.config import ScoringConfig
from signals.evaluate import peer_percentiles
from signals.features import AccountFeatures, extract
from signals.health import health
from signals.model import ScoringError
from signals.risk import feature_vector
from storage.book import data_span, stream

MIN_HISTORY_DAYS = 84
FEW_OUTCOMES = 10  # fewer held-out churners (or expanders) than this: that AUC is noise
WORSE_TOLERANCE = 0.01  # no target may lose more AUC than this for the new weights to be kept


@dataclass(frozen=True)
class CalibrationResult:
    """The fit, and the validation backtest before and after it."""

    validation_as_of: date
    training_cutoffs: list[date]
    training_rows: int
    before: BacktestResult
    after: BacktestResult
    config: ScoringConfig
    notes: list[str]

    def auc(self, which: BacktestResult, target: str) -> float | None:
        """The model's AUC for a target in one of the two backtests."""
        result = which.model(target)
        return result.auc if result else None

    def judged(self) -> list[str]:
        """The outcomes with enough cases in the held-out period to compare AUCs on."""
        counts = {"churn": self.before.churned, "expansion": self.before.expanded}
        return [t for t, n in counts.items() if n >= FEW_OUTCOMES]

    @property
    def improved(self) -> bool:
        """Better overall on the held-out period, and no judged target clearly worse."""
        deltas = []
        for target in self.judged():
            old, new = self.auc(self.before, target), self.auc(self.after, target)
            if old is None or new is None:
                continue
            if new < old - WORSE_TOLERANCE:
                return False
            deltas.append(new - old)
        return bool(deltas) and sum(deltas) > 0


def cutoffs(
    span: tuple[date, date], horizon_days: int, count: int, step_days: int
) -> tuple[date, list[date]]:
    """The validation cut-off (the latest with a full horizon) and the training ones before it.

    Training labels end on or before the validation cut-off, so nothing the
    validation scores is seen while fitting.
    """
    first, last = span
    validation = last - timedelta(days=horizon_days)
    earliest = first + timedelta(days=MIN_HISTORY_DAYS)
    training = [validation - timedelta(days=horizon_days + k * step_days) for k in range(count)]
    training = [t for t in training if t >= earliest]
    if validation < earliest or not training:
        needed = MIN_HISTORY_DAYS + 2 * horizon_days
        raise ScoringError(
            f"Calibration needs at least {needed} days of usage history for a {horizon_days}-day "
            f"horizon; stored usage covers {first} to {last}. Try a shorter --horizon."
        )
    return validation, sorted(training)


def training_rows(
    engine: Engine,
    *,
    config: ScoringConfig,
    at: Sequence[date],
    horizon_days: int,
    progress: Progress = no_progress,
) -> list[TrainingRow]:
    """Features and outcomes of every eligible account at every training cut-off."""
    until = max(at) + timedelta(days=horizon_days)
    per_cutoff: dict[date, list[tuple[AccountFeatures, bool, bool]]] = {t: [] for t in at}
    for data in stream(engine, since=None, until=until, scored_from=min(at)):
        progress(1)
        for t in at:
            result = outcome(data, t, horizon_days)
            if result.eligible:
                per_cutoff[t].append((extract(data, t, config), result.churned, result.expanded))
    rows = []
    for items in per_cutoff.values():
        peers = peer_percentiles([f for f, _, _ in items])
        for (f, churned, expanded), p in zip(items, peers, strict=True):
            f = f.with_peer(p)
            components = {c.name: c.score for c in health(f, config).components}
            rows.append(TrainingRow(feature_vector(f), components, churned, expanded))
    return rows


def fit(rows: Sequence[TrainingRow], config: ScoringConfig) -> tuple[ScoringConfig, list[str]]:
    """A candidate config: refitted churn and expansion models, health and metric weights."""
    names = feature_names(rows)
    notes = []
    changes: dict[str, Any] = {}
    churn = fit_model(rows, "churned", names)
    if churn is None:
        notes.append("Too few churned accounts in the training periods: churn model kept.")
    else:
        changes["churn_model"] = churn.coefficients
        changes["metric_weights"] = metric_weights(churn, config.metric_weights)
    expansion = fit_model(rows, "expanded", names)
    if expansion is None:
        notes.append("Too few expanding accounts in the training periods: expansion model kept.")
    else:
        changes["expansion_model"] = expansion.coefficients
    weights = fit_health_weights(rows)
    if weights is None:
        notes.append("Health weights kept: the components did not separate churn.")
    else:
        changes["weights"] = weights
    return replace(config, **changes), notes


def calibrate(
    engine: Engine,
    *,
    config: ScoringConfig,
    horizon_days: int = 60,
    count: int = 6,
    step_days: int = 28,
    progress: Progress = no_progress,
) -> CalibrationResult:
    """Fit on earlier cut-offs, then backtest the latest full horizon with old and new weights."""
    span = data_span(engine)
    if span is None:
        raise ScoringError("No usage stored yet: nothing to calibrate on.")
    validation, training = cutoffs(span, horizon_days, count, step_days)
    rows = training_rows(
        engine, config=config, at=training, horizon_days=horizon_days, progress=progress
    )
    candidate, notes = fit(rows, config)
    before = backtest(
        engine, as_of=validation, horizon_days=horizon_days, config=config, progress=progress
    )
    after = backtest(
        engine, as_of=validation, horizon_days=horizon_days, config=candidate, progress=progress
    )
    return CalibrationResult(validation, training, len(rows), before, after, candidate, notes)


def write_scoring(path: Path, config: ScoringConfig, *, note: str, now: datetime) -> None:
    """Save the fitted parts of `[scoring]` into a TOML file, keeping everything else in it."""
    document = (
        tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    )
    if "scoring" not in document:
        document["scoring"] = tomlkit.table(is_super_table=True)
    scoring = document["scoring"]
    assert isinstance(scoring, tomlkit.items.Table)
    fitted = config.to_mapping()
    scoring.add(tomlkit.comment(f"calibrated {now:%Y-%m-%d %H:%M} UTC: {note}"))
    for key in ("weights", "metric_weights", "churn_model", "expansion_model"):
        scoring[key] = fitted[key]
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomlkit.dumps(document), encoding="utf-8")
    tmp.replace(path)
