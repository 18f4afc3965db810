"""Champion and challengers: the full model against simple predictors on the same held-out rows.

Every contender is a logistic model over named features (the full model over all
of them, each challenger over one idea: recency, volume, trend, per-metric counts,
BG/NBD), fitted on the training cut-offs and ranked by ROC AUC on the later,
held-out cut-off. The winner ships as ``churn_model`` (or ``expansion_model``),
so whatever wins still explains itself through the same named drivers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from signals import bgnbd
from signals.backtest import roc_auc
from signals.calibrate import TrainingRow, feature_names, fit_logistic, fit_model, tuned_model
from signals.features import AccountFeatures
from signals.risk import LEVEL_PREFIX, level_vector, logit

MODEL = "Steward model (all features)"
RFM = frozenset({"recency", "overdue", "active_days_28", "active_days_90", "events_90"})
CURRENT = "current settings"
BLEND = "blend (recency, RFM, BG/NBD)"
BLENDED = ("days since last use", "recency, frequency and volume", "BG/NBD")


@dataclass(frozen=True, slots=True)
class Challenger:
    """A simple predictor: a logistic model over a few named features."""

    name: str
    uses: Callable[[str], bool]


CHALLENGERS = (
    Challenger("days since last use", lambda n: n == "recency"),
    Challenger("28-day volume", lambda n: n == "events_28"),
    Challenger("28-day trend", lambda n: n == "trend"),
    Challenger("active days in 90", lambda n: n == "active_days_90"),
    Challenger("per-metric 28-day counts", lambda n: n.startswith(LEVEL_PREFIX)),
    Challenger("BG/NBD", lambda n: n in ("p_gone", "expected_activity")),
    Challenger("recency, frequency and volume", lambda n: n in RFM),
)
ORDER = {MODEL: 0, CURRENT: 1}  # on a tie the full model wins, then what is already in use


@dataclass(frozen=True, slots=True)
class Entry:
    """One contender: where it comes from, its held-out AUC and its coefficients."""

    name: str
    kind: str  # "model", "current" or "baseline"
    auc: float | None
    coefficients: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Contest:
    """Every contender for one outcome on the held-out rows, and the one that ships."""

    target: str  # "churned" or "expanded"
    held_out: int
    positives: int
    entries: tuple[Entry, ...]  # best first
    origins: int = 1  # held-out cut-offs the AUCs are the mean of

    @property
    def champion(self) -> Entry:
        """The contender that ships: the best held-out AUC (the model on a tie)."""
        return self.entries[0]

    @property
    def best_baseline(self) -> Entry | None:
        """The strongest simple predictor."""
        return next((e for e in self.entries if e.kind == "baseline"), None)

    def entry(self, name: str) -> Entry | None:
        """A contender by name."""
        return next((e for e in self.entries if e.name == name), None)


def contest(
    train: Sequence[TrainingRow],
    held_out: Sequence[TrainingRow],
    target: str,
    current: Mapping[str, float],
) -> Contest:
    """Fit every contender on ``train`` and rank them by AUC on ``held_out``."""
    labels = [bool(getattr(r, target)) for r in held_out]
    names = feature_names(train)
    entries = [Entry(CURRENT, "current", _auc(current, held_out, labels), dict(current))]
    fitted = tuned_model(train, target, names)
    if fitted is not None:
        entries.append(
            Entry(MODEL, "model", _auc(fitted.coefficients, held_out, labels), fitted.coefficients)
        )
    for challenger in CHALLENGERS:
        used = [n for n in names if challenger.uses(n)]
        if not used:
            continue
        simple = fit_model(train, target, used)
        if simple is not None:
            auc = _auc(simple.coefficients, held_out, labels)
            entries.append(Entry(challenger.name, "baseline", auc, simple.coefficients))
    parts = [e.coefficients for e in entries if e.name in BLENDED]
    if len(parts) >= 2:
        mixed = blend(parts)
        entries.append(Entry(BLEND, "model", _auc(mixed, held_out, labels), mixed))
    entries.sort(key=lambda e: (-(e.auc if e.auc is not None else -1.0), ORDER.get(e.name, 2)))
    return Contest(target, len(held_out), sum(labels), tuple(entries))


def pooled(contests: Sequence[Contest]) -> Contest:
    """Several held-out cut-offs (rolling origin) as one contest: each contender's AUC is
    its mean over the cut-offs where it could be judged, so the champion is the one that
    does well period after period, not on one lucky period.

    ``contests`` are latest first; the coefficients that ship are the latest's (fitted
    on the most history). Outcome and row counts add up.
    """
    latest = contests[0]
    by_name: dict[str, list[float]] = {}
    for c in contests:
        for e in c.entries:
            if e.auc is not None:
                by_name.setdefault(e.name, []).append(e.auc)
    entries = [
        Entry(e.name, e.kind, _mean(by_name.get(e.name, [])), e.coefficients)
        for e in latest.entries
    ]
    entries.sort(key=lambda e: (-(e.auc if e.auc is not None else -1.0), ORDER.get(e.name, 2)))
    return Contest(
        latest.target,
        sum(c.held_out for c in contests),
        sum(c.positives for c in contests),
        tuple(entries),
        origins=len(contests),
    )


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None


def blend(models: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The average of logistic models' log-odds: itself a logistic model over their features.

    Each contender is fitted to the same outcome, so their log-odds share a scale;
    averaging them keeps what each sees and evens out each one's mistakes.
    """
    out: dict[str, float] = {}
    for model in models:
        for name, coef in model.items():
            out[name] = out.get(name, 0.0) + coef / len(models)
    return {name: round(coef, 4) for name, coef in out.items()}


def _auc(
    model: Mapping[str, float], rows: Sequence[TrainingRow], labels: list[bool]
) -> float | None:
    return roc_auc([logit(model, r.vector) for r in rows], labels)


def metric_counts_cv(
    features: Sequence[AccountFeatures], labels: Sequence[bool], folds: int = 5
) -> list[float]:
    """Per-metric 28-day counts in a logistic regression, each account scored out of fold.

    A backtest has one cut-off and no earlier one to train on, so this baseline is
    cross-validated on the judged accounts: it learns from the outcomes of the other
    folds, which makes it an optimistic bar for the shipped score to clear.
    """
    vectors = [level_vector(f) for f in features]
    names = sorted({n for v in vectors for n in v if n.startswith(LEVEL_PREFIX)})
    if not names or len(set(labels)) < 2:
        return [0.0] * len(features)
    x = np.array([[v.get(n, 0.0) for n in names] for v in vectors], dtype=np.float64)
    y = np.array(labels, dtype=np.float64)
    fold = np.arange(len(y)) % folds
    out = np.zeros(len(y))
    for k in range(folds):
        train, test = fold != k, fold == k
        if not test.any() or len(set(y[train])) < 2:
            continue
        mean, std = x[train].mean(axis=0), x[train].std(axis=0)
        std[std < 1e-9] = 1.0
        design = np.hstack([np.ones((len(y), 1)), (x - mean) / std])
        w = fit_logistic(design[train], y[train], l2=1.0)
        out[test] = design[test] @ w
    return [float(v) for v in out]


def bgnbd_expected(features: Sequence[AccountFeatures], horizon_days: int) -> list[float] | None:
    """BG/NBD fitted on these accounts at their cut-off: active days expected in the horizon."""
    acts = [f.activity for f in features]
    known = [a for a in acts if a.first_day is not None and a.last_day is not None]
    summary = np.array(
        [
            (a.repeat_days, (a.last_day - a.first_day).days, (a.as_of - a.first_day).days)
            for a in known
            if a.first_day is not None and a.last_day is not None
        ],
        dtype=np.float64,
    ).reshape(-1, 3)
    model = bgnbd.fit(summary[:, 0], summary[:, 1], summary[:, 2])
    if model is None:
        return None
    out = []
    for a in acts:
        if a.first_day is None or a.last_day is None:
            out.append(0.0)
            continue
        t_x, t = float((a.last_day - a.first_day).days), float((a.as_of - a.first_day).days)
        out.append(model.expected(horizon_days, a.repeat_days, t_x, t))
    return out
