"""Fit the risk models and health weights to a book's own outcomes (regularised logistic)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from signals.backtest import roc_auc
from signals.config import COMPONENTS, Bands
from signals.risk import LEVEL_PREFIX, METRIC_PREFIX

Array = npt.NDArray[np.float64]
MIN_POSITIVES = 5
METRIC_SIGNAL = 0.15  # a metric's standardised churn coefficient above this flips its weight


@dataclass(frozen=True, slots=True)
class TrainingRow:
    """One account at one training cut-off: its features and what happened next."""

    vector: Mapping[str, float]
    components: Mapping[str, float | None]
    churned: bool
    expanded: bool
    cutoff: date | None = None  # the training cut-off it comes from


@dataclass(frozen=True, slots=True)
class Fitted:
    """A fitted model: intercept and coefficients in the features' own units."""

    coefficients: dict[str, float]
    positives: int
    rows: int


def fit_logistic(x: Array, y: Array, l2: float = 1.0, iterations: int = 50) -> Array:
    """L2-regularised logistic regression by Newton's method; column 0 is the intercept."""
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return w


L2_GRID = (0.3, 3.0, 30.0, 300.0)  # weakest first: a stronger one must earn its place
L2_GAIN = 0.002  # held-out AUC a stronger penalty must add to be chosen


def fit_model(
    rows: Sequence[TrainingRow], target: str, names: Sequence[str], l2: float | None = None
) -> Fitted | None:
    """Fit one outcome ("churned" or "expanded") on the named features; None if too few cases.

    ``l2`` is the ridge penalty on the standardised coefficients (default: 1% of the rows).
    """
    y = np.array([1.0 if getattr(r, target) else 0.0 for r in rows])
    positives = int(y.sum())
    if positives < MIN_POSITIVES or len(rows) - positives < MIN_POSITIVES:
        return None
    raw = np.array([[r.vector.get(n, 0.0) for n in names] for r in rows], dtype=np.float64)
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    std[std < 1e-9] = 1.0
    x = np.hstack([np.ones((len(rows), 1)), (raw - mean) / std])
    w = fit_logistic(x, y, l2=l2 if l2 is not None else max(1.0, 0.01 * len(rows)))
    coef = w[1:] / std
    intercept = float(w[0] - np.sum(coef * mean))
    coefficients = {"intercept": round(intercept, 4)}
    for name, c, s in zip(names, coef, w[1:], strict=True):
        if abs(s) >= 1e-3:
            coefficients[name] = round(float(c), 4)
    return Fitted(coefficients, positives, len(rows))


def fit_health_weights(rows: Sequence[TrainingRow]) -> dict[str, float] | None:
    """Weights over the health components: how much each one's fall foretold churn."""
    y = np.array([1.0 if r.churned else 0.0 for r in rows])
    if y.sum() < MIN_POSITIVES or len(rows) - y.sum() < MIN_POSITIVES:
        return None
    raw = np.array(
        [[_filled(r.components.get(c)) for c in COMPONENTS] for r in rows], dtype=np.float64
    )
    std = raw.std(axis=0)
    std[std < 1e-9] = 1.0
    x = np.hstack([np.ones((len(rows), 1)), (raw - raw.mean(axis=0)) / std])
    w = fit_logistic(x, y, l2=max(1.0, 0.01 * len(rows)))
    per_point = np.maximum(0.0, -w[1:] / std)  # a component protects when its rise lowers churn
    if float(per_point.sum()) <= 0:
        return None
    weights = per_point / per_point.sum()
    return {c: round(float(v), 4) + 0.0 for c, v in zip(COMPONENTS, weights, strict=True)}


AT_RISK_SHARE = (0.05, 0.35)  # the defaults fit when this share of the book is at risk ...
HEALTHY_SHARE = 0.30  # ... and at least this share healthy
AT_RISK_QUANTILE = 0.15  # otherwise: the lowest 15% are at risk ...
HEALTHY_QUANTILE = 0.50  # ... and the better half healthy
MIN_BAND_SCORES = 50  # fewer scored accounts than this: the bands stay as they are
MIN_BAND_GAP = 10.0  # quantiles closer than this many points: scores too bunched to band


def fit_bands(scores: Sequence[float], current: Bands) -> tuple[Bands, str] | None:
    """Health bands from the book's own distribution, where the current ones do not fit it.

    Thresholds fit when between 5% and 35% of the accounts fall at risk and at least
    30% are healthy: a digest then names a few accounts, not none and not most. When
    they do not (a book whose usage scores low or high across the board), the lowest
    15% of scores are at risk and the better half healthy. Returns the bands and why,
    or None when the current ones fit, or there are too few scores to say, or the
    scores bunch so close (the lowest 15% within 10 points of the median: a sparse
    book where most accounts will lapse) that "healthy at 9/100" would mislead.
    """
    if len(scores) < MIN_BAND_SCORES:
        return None
    x = np.asarray(scores, dtype=np.float64)
    at_risk = float(np.mean(x < current.at_risk))
    healthy = float(np.mean(x >= current.healthy))
    low, high = AT_RISK_SHARE
    if low <= at_risk <= high and healthy >= HEALTHY_SHARE:
        return None
    lower = round(float(np.quantile(x, AT_RISK_QUANTILE)), 1)
    upper = round(float(np.quantile(x, HEALTHY_QUANTILE)), 1)
    if upper - lower < MIN_BAND_GAP:  # scores bunched together: quantiles would split hairs
        return None
    fitted = Bands(healthy=upper, at_risk=lower, critical_margin=current.critical_margin)
    why = (
        f"the bands {current.at_risk:g}/{current.healthy:g} put {at_risk:.0%} of the book at "
        f"risk and {healthy:.0%} healthy; now at risk below {lower:g} (the lowest "
        f"{AT_RISK_QUANTILE:.0%}) and healthy from {upper:g} (the better half)"
    )
    return fitted, why


def _filled(score: float | None) -> float:
    return 50.0 if score is None else score


def metric_weights(churn: Fitted, current: Mapping[str, float]) -> dict[str, float]:
    """Metrics whose rise foretold churn count against the usage trend; the others for it."""
    out = dict(current)
    for name, coef in churn.coefficients.items():
        for prefix in (METRIC_PREFIX, LEVEL_PREFIX):
            if name.startswith(prefix):
                metric = name.removeprefix(prefix)
                out[metric] = -1.0 if coef > METRIC_SIGNAL else out.get(metric, 1.0)
    return out


def feature_names(rows: Sequence[TrainingRow]) -> list[str]:
    """Every feature seen in the rows, model features first, then per-metric ones."""
    names: set[str] = set()
    for r in rows:
        names.update(r.vector)
    base = sorted(n for n in names if not n.startswith(METRIC_PREFIX))
    return base + sorted(n for n in names if n.startswith(METRIC_PREFIX))


def tuned_model(rows: Sequence[TrainingRow], target: str, names: Sequence[str]) -> Fitted | None:
    """``fit_model`` with its penalty chosen out of time inside the training rows.

    Each penalty of L2_GRID is fitted on the earlier training cut-offs and judged
    (ROC AUC) on the latest one (on every fifth row when there is one cut-off); the
    best is refitted on all the rows.
    """
    cutoffs = sorted({r.cutoff for r in rows if r.cutoff is not None})
    if len(cutoffs) >= 2:
        inner = [r for r in rows if r.cutoff == cutoffs[-1]]
        early = [r for r in rows if r.cutoff != cutoffs[-1]]
    else:
        inner = list(rows[::5])
        early = [r for i, r in enumerate(rows) if i % 5]
    labels = [bool(getattr(r, target)) for r in inner]
    best, best_auc = None, -1.0
    for l2 in L2_GRID:
        fitted = fit_model(early, target, names, l2)
        if fitted is None:
            continue
        auc = roc_auc([_logit(fitted.coefficients, r.vector) for r in inner], labels)
        if auc is not None and auc > best_auc + (L2_GAIN if best is not None else 0.0):
            best, best_auc = l2, auc
    return fit_model(rows, target, names, best)


def _logit(model: Mapping[str, float], vector: Mapping[str, float]) -> float:
    return model.get("intercept", 0.0) + sum(
        c * vector.get(n, 0.0) for n, c in model.items() if n != "intercept"
    )
