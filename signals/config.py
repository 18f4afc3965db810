"""How signals are weighed: the `[scoring]` part of steward.toml, with defaults.

Everything here is plain data. ``ScoringConfig.from_mapping`` reads the TOML
table and says exactly which key is wrong; ``to_mapping`` writes it back (what
``steward calibrate`` saves).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from signals.bgnbd import BgNbd

T = TypeVar("T")

COMPONENTS = (
    "usage_trend",
    "activity",
    "adoption",
    "commit_pace",
    "support",
    "outcomes",
    "stability",
    "peer",
    "outlook",
)

DEFAULT_WEIGHTS: dict[str, float] = {
    "usage_trend": 0.26,
    "activity": 0.18,
    "adoption": 0.14,
    "commit_pace": 0.12,
    "support": 0.10,
    "outcomes": 0.08,
    "stability": 0.04,
    "peer": 0.08,
    "outlook": 0.20,  # 100 x (1 - churn risk): calibration sets how much the model counts
}

# Risk models: logistic regressions over the features named in signals/risk.py.
# Coefficients apply to standardised features (see FEATURE_SCALES there); these
# defaults encode how consumption businesses usually behave and are replaced by
# `steward calibrate` when the book's own history says otherwise.
DEFAULT_CHURN_MODEL: dict[str, float] = {
    "intercept": -3.3,
    "trend": -0.9,
    "short_trend": -0.7,
    "inactive_days": 1.1,
    "breadth_trend": -1.2,
    "stickiness": -0.2,
    "commit_gap": -0.2,
    "support_load": 0.35,
    "low_csat": 0.6,
    "success_rate": -0.3,
    "volatility": 0.2,
    "peer": -0.3,
    "tenure": -0.1,
}

DEFAULT_EXPANSION_MODEL: dict[str, float] = {
    "intercept": -2.2,
    "trend": 0.8,
    "short_trend": 0.4,
    "inactive_days": -0.6,
    "breadth_trend": 1.2,
    "commit_gap": 0.4,
    "new_use_case": 0.9,
    "support_load": -0.1,
    "seasonal_echo": 0.6,
}


class ConfigValueError(ValueError):
    """A scoring setting is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class Bands:
    """Health bands: at or above ``healthy`` is healthy; below ``at_risk`` is at risk."""

    healthy: float = 70.0
    at_risk: float = 40.0
    critical_margin: float = 35.0  # the score stays within this of its weakest usage component

    def band(self, score: float) -> str:
        """Name the band a score falls in, as the score is shown (a whole number): a
        69.96 that every card prints as 70 is healthy, not "70 (watch)"."""
        score = float(round(score))
        if score >= self.healthy:
            return "healthy"
        if score < self.at_risk:
            return "at risk"
        return "watch"


@dataclass(frozen=True, slots=True)
class Windows:
    """The day windows signals compare."""

    recent_days: int = 28
    baseline_days: int = 56
    short_days: int = 7
    meaningful_fraction: float = 0.1  # of the baseline's median day, for "meaningful usage"


@dataclass(frozen=True, slots=True)
class TimeToValueTargets:
    """Targets, in days from go-live (or the first contract or first event)."""

    first_value_days: int = 14
    target_consumption_days: int = 60
    target_consumption_fraction: float = 0.8  # of the commit's even daily pace
    first_expansion_days: int = 180


@dataclass(frozen=True, slots=True)
class ValueFactor:
    """What one unit of a metric is worth: minutes saved at an hourly rate, or money."""

    label: str = ""
    minutes: float = 0.0
    hourly_rate: float = 0.0
    money: float = 0.0

    def per_unit(self) -> float:
        """Value of one unit, in the account's currency."""
        return self.money + self.minutes / 60.0 * self.hourly_rate


@dataclass(frozen=True, slots=True)
class TierRules:
    """How accounts are tiered: by ARR (or commit) and by health, without flapping."""

    strategic_arr: float = 250_000.0
    scaled_arr: float = 50_000.0
    hysteresis: float = 0.1  # move down only below the threshold less this fraction
    escalate_below: float = 40.0  # a digital account under this health goes to scaled
    recover_above: float = 60.0  # ... and returns once health stays above this
    recovery_days: int = 28  # ... for this many days
    min_dwell_days: int = 14  # no tier move sooner than this after the last


@dataclass(frozen=True, slots=True)
class AlertRules:
    """When a change between two evaluations becomes an alert."""

    health_drop_points: float = 15.0
    usage_drop_fraction: float = 0.4
    inactive_days: int = 7
    bill_shock_ratio: float = 1.5  # month-end projection against the trailing baseline
    bill_shock_budget_ratio: float = 1.2  # ... and against the monthly budget (both must hold)
    early_exhaustion_days: int = 30
    under_use_fraction: float = 0.7
    renewal_days: int = 90  # a renewal this close with weak health or high churn risk alerts
    renewal_churn_risk: float = 0.5  # ... churn risk at or above this counts as high


@dataclass(frozen=True, slots=True)
class SegmentOverride:
    """Weights or bands for one segment; anything left out uses the book's."""

    weights: Mapping[str, float] | None = None
    bands: Bands | None = None


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    """Every knob of the signals, with defaults that work without a config file."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    bands: Bands = field(default_factory=Bands)
    windows: Windows = field(default_factory=Windows)
    ttv: TimeToValueTargets = field(default_factory=TimeToValueTargets)
    tiers: TierRules = field(default_factory=TierRules)
    alerts: AlertRules = field(default_factory=AlertRules)
    metric_weights: Mapping[str, float] = field(default_factory=dict)  # default 1.0 each
    value_factors: Mapping[str, ValueFactor] = field(default_factory=dict)
    churn_model: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CHURN_MODEL))
    expansion_model: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_EXPANSION_MODEL)
    )
    segments: Mapping[str, SegmentOverride] = field(default_factory=dict)
    # BG/NBD parameters fitted by `steward calibrate` (r, alpha in days, a, b, horizon_days)
    bgnbd: Mapping[str, float] = field(default_factory=dict)

    def bgnbd_model(self) -> BgNbd | None:
        """The fitted buy-till-you-die model, when calibration found one."""
        p = self.bgnbd
        if not all(p.get(k, 0) > 0 for k in ("r", "alpha", "a", "b")):
            return None
        return BgNbd(p["r"], p["alpha"], p["a"], p["b"])

    @property
    def horizon_days(self) -> int:
        """The horizon the risk models were fitted for (calibration's, else 60 days)."""
        return int(self.bgnbd.get("horizon_days", 60))

    def weights_for(self, segment: str | None) -> Mapping[str, float]:
        """The component weights that apply to an account of this segment."""
        override = self.segments.get(segment or "")
        return override.weights if override and override.weights else self.weights

    def bands_for(self, segment: str | None) -> Bands:
        """The health bands that apply to an account of this segment."""
        override = self.segments.get(segment or "")
        return override.bands if override and override.bands else self.bands

    def metric_weight(self, metric: str) -> float:
        """How a metric counts in the usage trend: 1.0 by default, negative if growth is bad."""
        return self.metric_weights.get(metric, 1.0)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> ScoringConfig:
        """Read the `[scoring]` table of steward.toml."""
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        _reject_unknown(raw, known, "scoring")
        changes: dict[str, Any] = {}
        if "weights" in raw:
            changes["weights"] = _weights(raw["weights"], "scoring.weights")
        if "bands" in raw:
            changes["bands"] = _bands(raw["bands"], "scoring.bands")
        for name, kind in (
            ("windows", Windows),
            ("ttv", TimeToValueTargets),
            ("tiers", TierRules),
            ("alerts", AlertRules),
        ):
            if name in raw:
                changes[name] = _section(kind, raw[name], f"scoring.{name}")
        for name in ("metric_weights", "churn_model", "expansion_model"):
            if name in raw:
                changes[name] = _numbers(raw[name], f"scoring.{name}", allow_negative=True)
        if "bgnbd" in raw:
            changes["bgnbd"] = _numbers(raw["bgnbd"], "scoring.bgnbd")
        if "value_factors" in raw:
            changes["value_factors"] = _value_factors(raw["value_factors"])
        if "segments" in raw:
            changes["segments"] = _segments(raw["segments"])
        return replace(cls(), **changes)

    def to_mapping(self) -> dict[str, Any]:
        """The config as a TOML-ready table (the inverse of ``from_mapping``)."""
        out: dict[str, Any] = {
            "weights": dict(self.weights),
            "bands": {f.name: getattr(self.bands, f.name) for f in fields(self.bands)},
            "metric_weights": dict(self.metric_weights),
            "churn_model": dict(self.churn_model),
            "expansion_model": dict(self.expansion_model),
            "bgnbd": dict(self.bgnbd),
        }
        for name in ("windows", "ttv", "tiers", "alerts"):
            section = getattr(self, name)
            out[name] = {f.name: getattr(section, f.name) for f in fields(section)}
        out["value_factors"] = {
            metric: {f.name: getattr(vf, f.name) for f in fields(vf)}
            for metric, vf in self.value_factors.items()
        }
        return out


def _reject_unknown(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigValueError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigValueError(f"{where}: must be a table")
    return value


def _number(value: Any, where: str, *, allow_negative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigValueError(f"{where}: must be a number")
    if value < 0 and not allow_negative:
        raise ConfigValueError(f"{where}: must not be negative")
    return float(value)


def _numbers(value: Any, where: str, *, allow_negative: bool = False) -> dict[str, float]:
    table = _table(value, where)
    return {
        str(k): _number(v, f"{where}.{k}", allow_negative=allow_negative) for k, v in table.items()
    }


def _weights(value: Any, where: str) -> dict[str, float]:
    weights = _numbers(value, where)
    _reject_unknown(weights, set(COMPONENTS), where)
    if not any(weights.values()):
        raise ConfigValueError(f"{where}: at least one weight must be above zero")
    return {name: weights.get(name, 0.0) for name in COMPONENTS}


def _bands(value: Any, where: str) -> Bands:
    bands = _section(Bands, value, where)
    if not 0 <= bands.at_risk <= bands.healthy <= 100:
        raise ConfigValueError(f"{where}: need 0 <= at_risk <= healthy <= 100")
    return bands


def _section(kind: type[T], value: Any, where: str) -> T:
    table = _table(value, where)
    names = {f.name: f for f in fields(kind)}  # type: ignore[arg-type]
    _reject_unknown(table, set(names), where)
    values: dict[str, Any] = {}
    for key, item in table.items():
        number = _number(item, f"{where}.{key}")
        default = getattr(kind(), key)
        values[key] = int(number) if isinstance(default, int) else number
    return kind(**values)


def _value_factors(value: Any) -> dict[str, ValueFactor]:
    out = {}
    for metric, spec in _table(value, "scoring.value_factors").items():
        where = f"scoring.value_factors.{metric}"
        table = dict(_table(spec, where))
        label = table.pop("label", "")
        if not isinstance(label, str):
            raise ConfigValueError(f"{where}.label: must be text")
        numbers = _section(ValueFactor, table, where)
        out[str(metric)] = replace(numbers, label=label)
    return out


def _segments(value: Any) -> dict[str, SegmentOverride]:
    out = {}
    for name, spec in _table(value, "scoring.segments").items():
        where = f"scoring.segments.{name}"
        table = _table(spec, where)
        _reject_unknown(table, {"weights", "bands"}, where)
        weights = _weights(table["weights"], f"{where}.weights") if "weights" in table else None
        bands = _bands(table["bands"], f"{where}.bands") if "bands" in table else None
        out[str(name)] = SegmentOverride(weights=weights, bands=bands)
    return out
