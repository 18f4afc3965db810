"""`steward calibrate`: fit the score to the book's own history, validated out of time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import tomlkit
from sqlalchemy.engine import Engine

from services.scoring import BacktestResult, Progress, backtest, no_progress
from signals import bgnbd
from signals.activity import Activity, activity
from signals.backtest import outcome
from signals.calibrate import (
    Fitted,
    TrainingRow,
    fit_bands,
    fit_health_weights,
    metric_weights,
)
from signals.challengers import Contest, contest, pooled
from signals.config import Bands, ScoringConfig
from signals.evaluate import peer_percentiles
from signals.features import AccountFeatures, extract
from signals.health import health
from signals.model import ScoringError
from signals.risk import feature_vector, predict
from storage.book import data_span, stream

MIN_FEATURE_DAYS = 28  # history before the earliest training cut-off: one window of features
HORIZONS = (90, 60, 45, 30, 21)  # the horizons calibration tries, longest that fits first
SPARSE_GAP = 7.0  # a book whose accounts are usually active less than weekly prefers 90 days
MIN_TRAINING_CUTOFFS = 2
FEW_OUTCOMES = 10  # fewer held-out churners (or expanders) than this: that AUC is noise
ORIGINS = 3  # held-out cut-offs (rolling origin) the contest averages over, where history allows


@dataclass(frozen=True)
class Plan:
    """The cut-offs calibration uses, chosen to fit the history there is."""

    horizon_days: int
    step_days: int
    validation: date
    training: list[date]
    reason: str
    earlier: list[date] = field(default_factory=list)  # more held-out cut-offs, latest first

    @property
    def origins(self) -> list[date]:
        """Every held-out cut-off, latest (the validation) first."""
        return [self.validation, *self.earlier]

    def training_for(self, origin: date) -> list[date]:
        """The training cut-offs whose outcomes are known by ``origin``."""
        return [t for t in self.training if t + timedelta(days=self.horizon_days) <= origin]


@dataclass(frozen=True)
class CalibrationResult:
    """The fit, the contest of champion and challengers, and the backtest before and after."""

    plan: Plan
    training_rows: int
    held_out_rows: int
    churn: Contest
    expansion: Contest
    before: BacktestResult
    after: BacktestResult
    config: ScoringConfig
    notes: list[str]

    @property
    def validation_as_of(self) -> date:
        """The held-out cut-off."""
        return self.plan.validation

    @property
    def training_cutoffs(self) -> list[date]:
        """The training cut-offs, oldest first."""
        return self.plan.training

    def auc(self, which: BacktestResult, target: str) -> float | None:
        """The model's AUC for a target in one of the two backtests."""
        result = which.model(target)
        return result.auc if result else None

    def judged(self) -> list[str]:
        """The outcomes with enough cases in the held-out period to compare AUCs on."""
        counts = {"churn": self.churn.positives, "expansion": self.expansion.positives}
        return [t for t, n in counts.items() if n >= FEW_OUTCOMES]

    @property
    def improved(self) -> bool:
        """A contender did better than the current settings on the held-out period."""
        contests = {"churn": self.churn, "expansion": self.expansion}
        return any(contests[t].champion.kind != "current" for t in self.judged())


def plan(
    span: tuple[date, date],
    *,
    horizon_days: int | None = None,
    count: int = 6,
    step_days: int | None = None,
    usual_gap: float | None = None,
) -> Plan:
    """The validation cut-off (the latest with a full horizon) and the training ones before it.

    Without a horizon, the longest of HORIZONS that leaves at least two training
    cut-offs (90 days first for a book used less than weekly, else 60), so that 90
    days of history already calibrate (a 21-day horizon). Training labels end on or
    before the validation cut-off: nothing the validation scores is seen in fitting.
    """
    first, last = span
    earliest = first + timedelta(days=MIN_FEATURE_DAYS)
    sparse = usual_gap is not None and usual_gap > SPARSE_GAP
    options = [horizon_days] if horizon_days else [h for h in HORIZONS if sparse or h <= 60]
    for h in options:
        step = step_days or max(7, min(28, h // 2))
        validation = last - timedelta(days=h)
        training = [validation - timedelta(days=h + k * step) for k in range(count)]
        training = sorted(t for t in training if t >= earliest)
        needed = 1 if horizon_days else min(MIN_TRAINING_CUTOFFS, count)
        if validation >= earliest and len(training) >= needed:
            why = "as asked" if horizon_days else _why(h, sparse, usual_gap)
            earlier = [validation - timedelta(days=k * step) for k in range(1, ORIGINS)]
            earlier = [
                o for o in earlier if sum(t + timedelta(days=h) <= o for t in training) >= needed
            ]
            return Plan(h, step, validation, training, why, earlier)
    shortest = options[-1]
    needed_days = MIN_FEATURE_DAYS + 2 * shortest + (0 if horizon_days else step_days or 7)
    raise ScoringError(
        f"Calibration needs at least {needed_days} days of usage history for a {shortest}-day "
        f"horizon; stored usage covers {first} to {last}."
        + (" Try a shorter --horizon, or leave it out." if horizon_days else "")
    )


def _why(horizon: int, sparse: bool, usual_gap: float | None) -> str:
    rhythm = f"accounts are usually active every {usual_gap:.0f} days" if usual_gap else ""
    if sparse:
        return f"the longest horizon the history allows ({rhythm}: churn shows slowly)"
    return f"the longest horizon up to 60 days the history allows{'; ' + rhythm if rhythm else ''}"


@dataclass
class _Rhythm:
    """What one pass over the book says about its rhythm, for planning and BG/NBD."""

    gaps: list[float] = field(default_factory=list)
    summaries: dict[date, list[tuple[float, float, float]]] = field(default_factory=dict)

    def add(self, day: date, act: Activity) -> None:
        if act.first_day is None or act.last_day is None:
            return
        summary = (
            float(act.repeat_days),
            float((act.last_day - act.first_day).days),
            float((day - act.first_day).days),
        )
        self.summaries.setdefault(day, []).append(summary)

    def bgnbd(self, day: date, horizon_days: int) -> dict[str, float]:
        """BG/NBD fitted on every account's history up to ``day`` (empty when it cannot be)."""
        rows = self.summaries.get(day, [])
        if not rows:
            return {}
        x, t_x, t = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
        model = bgnbd.fit(x, t_x, t)
        if model is None:
            return {}
        return {k: round(v, 6) for k, v in model.as_mapping().items()} | {
            "horizon_days": float(horizon_days)
        }


def _rhythm(engine: Engine, last: date, progress: Progress) -> _Rhythm:
    """One pass: each account's usual gap and BG/NBD summary at the end and at each candidate."""
    days = [last, *(last - timedelta(days=h) for h in HORIZONS)]
    out = _Rhythm()
    for data in stream(engine, since=None, until=last, scored_from=last):
        progress(1)
        for day in days:
            act = activity(data.metrics, day)
            out.add(day, act)
            if day == last and act.usual_gap is not None:
                out.gaps.append(act.usual_gap)
    return out


def training_rows(
    engine: Engine,
    *,
    config: ScoringConfig,
    at: Sequence[date],
    horizon_days: int,
    progress: Progress = no_progress,
) -> dict[date, list[TrainingRow]]:
    """Features and outcomes of every eligible account at every cut-off, by cut-off."""
    until = max(at) + timedelta(days=horizon_days)
    per_cutoff: dict[date, list[tuple[AccountFeatures, bool, bool]]] = {t: [] for t in at}
    for data in stream(engine, since=None, until=until, scored_from=min(at)):
        progress(1)
        for t in at:
            result = outcome(data, t, horizon_days)
            if result.eligible:
                per_cutoff[t].append((extract(data, t, config), result.churned, result.expanded))
    rows: dict[date, list[TrainingRow]] = {}
    for t, items in per_cutoff.items():
        peers = peer_percentiles([f for f, _, _ in items])
        rows[t] = []
        for (f, churned, expanded), p in zip(items, peers, strict=True):
            f = f.with_peer(p)
            components = {c.name: c.score for c in health(f, config).components}
            rows[t].append(TrainingRow(feature_vector(f), components, churned, expanded, t))
    return rows


def _with_outlook(rows: Sequence[TrainingRow], churn_model: dict[str, float]) -> list[TrainingRow]:
    """The rows with the "Likelihood to stay" component the shipped churn model gives them."""
    return [
        replace(
            r,
            components={
                **r.components,
                "outlook": 100 * (1 - predict(churn_model, r.vector).probability),
            },
        )
        for r in rows
    ]


Fold = tuple[Sequence[TrainingRow], Sequence[TrainingRow]]  # training rows, held-out rows


def fit(
    folds: Sequence[Fold], config: ScoringConfig
) -> tuple[ScoringConfig, Contest, Contest, list[str]]:
    """A candidate config: the champion churn and expansion models, health and metric weights.

    ``folds`` are (training, held-out) pairs, latest held-out cut-off first: every
    contender is judged on each, and ranked by its mean held-out AUC.
    """
    notes = []
    changes: dict[str, Any] = {}
    train = folds[0][0]

    def judged(target: str, current: Mapping[str, float]) -> Contest:
        return pooled([contest(tr, ho, target, current) for tr, ho in folds if tr and ho])

    churn = judged("churned", config.churn_model)
    champion = churn.champion
    if churn.positives < FEW_OUTCOMES:
        pass  # too few held-out churners to judge: the current model stays
    elif champion.kind == "current":
        notes.append("Churn: the current model did best on the held-out period; kept.")
    else:
        changes["churn_model"] = dict(champion.coefficients)
        if champion.kind == "model":
            fitted = Fitted(dict(champion.coefficients), churn.positives, churn.held_out)
            changes["metric_weights"] = metric_weights(fitted, config.metric_weights)
        else:
            notes.append(
                f"Churn: the simple predictor '{champion.name}' beat the full model on the "
                "held-out period, so it ships (its reasons are still given in words)."
            )
    expansion = judged("expanded", config.expansion_model)
    if expansion.positives >= FEW_OUTCOMES and expansion.champion.kind != "current":
        changes["expansion_model"] = dict(expansion.champion.coefficients)
    shipped_churn = dict(changes.get("churn_model", config.churn_model))
    weights = fit_health_weights(_with_outlook(train, shipped_churn))
    if weights is None:
        notes.append("Health weights kept: the components did not separate churn.")
    else:
        changes["weights"] = weights
    return replace(config, **changes), churn, expansion, notes


def calibrate(
    engine: Engine,
    *,
    config: ScoringConfig,
    horizon_days: int | None = None,
    count: int = 6,
    step_days: int | None = None,
    progress: Progress = no_progress,
) -> CalibrationResult:
    """Fit on earlier cut-offs, pick the champion on the latest full horizon, backtest both."""
    span = data_span(engine)
    if span is None:
        raise ScoringError("No usage stored yet: nothing to calibrate on.")
    rhythm = _rhythm(engine, span[1], progress)
    usual = float(np.median(rhythm.gaps)) if rhythm.gaps else None
    chosen = plan(
        span, horizon_days=horizon_days, count=count, step_days=step_days, usual_gap=usual
    )
    h = chosen.horizon_days
    validating = replace(config, bgnbd=rhythm.bgnbd(chosen.validation, h))
    by_cutoff = training_rows(
        engine,
        config=validating,
        at=sorted({*chosen.training, *chosen.origins}),
        horizon_days=h,
        progress=progress,
    )
    folds = [
        ([r for t in chosen.training_for(o) for r in by_cutoff[t]], by_cutoff[o])
        for o in chosen.origins
    ]
    train, held_out = folds[0]
    candidate, churn, expansion, notes = fit(folds, validating)
    before = backtest(engine, as_of=chosen.validation, horizon_days=h, config=config)
    after = backtest(engine, as_of=chosen.validation, horizon_days=h, config=candidate)
    bands = fit_bands(after.health_scores, candidate.bands)
    if bands is not None:
        candidate = replace(candidate, bands=bands[0])
        notes.append(f"Health bands fitted to this book: {bands[1]}.")
    if not validating.bgnbd:
        notes.append("BG/NBD could not be fitted (too few accounts with repeat activity).")
    shipped = replace(candidate, bgnbd=rhythm.bgnbd(span[1], h))  # refitted on all history
    return CalibrationResult(
        chosen, len(train), len(held_out), churn, expansion, before, after, shipped, notes
    )


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
    for key in ("weights", "metric_weights", "churn_model", "expansion_model", "bgnbd"):
        if fitted[key]:
            scoring[key] = fitted[key]
    if config.bands != Bands():  # fitted to the book (or set by hand): kept in the file
        scoring["bands"] = fitted["bands"]
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomlkit.dumps(document), encoding="utf-8")
    tmp.replace(path)
