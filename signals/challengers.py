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

from signals.backtest import roc_auc
from signals.calibrate import TrainingRow, feature_names, fit_model
from signals.risk import LEVEL_PREFIX, logit

MODEL = "Steward model (all features)"
CURRENT = "current settings"


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
    Challenger(
        "BG/NBD (P(alive), expected activity)", lambda n: n in ("p_gone", "expected_activity")
    ),
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
    fitted = fit_model(train, target, names)
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
    entries.sort(key=lambda e: (-(e.auc if e.auc is not None else -1.0), ORDER.get(e.name, 2)))
    return Contest(target, len(held_out), sum(labels), tuple(entries))


def _auc(
    model: Mapping[str, float], rows: Sequence[TrainingRow], labels: list[bool]
) -> float | None:
    return roc_auc([logit(model, r.vector) for r in rows], labels)
