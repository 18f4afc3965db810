"""Value realized: outcomes, success rates and value in business terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from signals.config import ValueFactor
from signals.model import DimensionActivity, MetricSeries
from signals.series import span


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One metric's outcomes over the period."""

    metric: str
    quantity: float
    events: int
    successes: int
    failures: int
    spend: float
    value: float | None  # in money, when a value factor is configured
    hours_saved: float | None
    label: str

    @property
    def success_rate(self) -> float | None:
        """Successes over events that reported an outcome."""
        judged = self.successes + self.failures
        return self.successes / judged if judged else None


@dataclass(frozen=True, slots=True)
class FeatureOutcome:
    """Success rate of one feature (workflow) over the period."""

    feature: str
    events: int
    successes: int
    failures: int

    @property
    def success_rate(self) -> float | None:
        """Successes over events that reported an outcome."""
        judged = self.successes + self.failures
        return self.successes / judged if judged else None


@dataclass(frozen=True, slots=True)
class ValueRealized:
    """What the account got for its spend between two days."""

    first: date
    last: date
    metrics: tuple[MetricValue, ...]
    features: tuple[FeatureOutcome, ...]

    @property
    def spend(self) -> float:
        """Total spend in the period."""
        return sum(m.spend for m in self.metrics)

    @property
    def value(self) -> float | None:
        """Total value in money, when any value factor applies."""
        values = [m.value for m in self.metrics if m.value is not None]
        return sum(values) if values else None

    @property
    def hours_saved(self) -> float | None:
        """Hours of work saved, when value factors are given in minutes."""
        hours = [m.hours_saved for m in self.metrics if m.hours_saved]
        return sum(hours) if hours else None

    @property
    def return_on_spend(self) -> float | None:
        """Value per unit of spend."""
        value = self.value
        return value / self.spend if value is not None and self.spend > 0 else None

    @property
    def success_rate(self) -> float | None:
        """Successes over judged events, across metrics."""
        ok = sum(m.successes for m in self.metrics)
        judged = ok + sum(m.failures for m in self.metrics)
        return ok / judged if judged else None

    @property
    def outcomes_per_spend(self) -> float | None:
        """Successful outcomes per unit of spend."""
        ok = sum(m.successes for m in self.metrics)
        return ok / self.spend if ok and self.spend > 0 else None

    def explain(self) -> str:
        """Value in business terms, in one sentence."""
        parts = []
        for m in self.metrics:
            if m.value is None:
                continue
            text = f"{m.quantity:,.0f} {m.metric}"
            if m.hours_saved:
                text += f" = about {m.hours_saved:,.0f} hours {m.label or 'saved'}"
            parts.append(text + f" (worth ~${m.value:,.0f})")
        if not parts:
            total = ", ".join(f"{m.quantity:,.0f} {m.metric}" for m in self.metrics)
            return f"{self.first} to {self.last}: {total or 'no usage'}."
        roi = self.return_on_spend
        tail = f"; {roi:.1f}x the spend" if roi is not None else ""
        return f"{self.first} to {self.last}: " + "; ".join(parts) + tail + "."


def value_realized(
    metrics: Sequence[MetricSeries],
    dimensions: Sequence[DimensionActivity],
    first: date,
    last: date,
    prices: Mapping[str, float],
    factors: Mapping[str, ValueFactor],
) -> ValueRealized:
    """Total outcomes and value for days first..last."""
    out = []
    for m in metrics:
        if not m.days or m.days[0] > last:
            continue  # not in use yet by the end of the period
        lo, hi = span(m.days, first, last)
        quantity = float(sum(m.quantity[lo:hi]))
        factor = factors.get(m.metric)
        out.append(
            MetricValue(
                metric=m.metric,
                quantity=quantity,
                events=int(sum(m.events[lo:hi])),
                successes=int(sum(m.successes[lo:hi])) if m.successes else 0,
                failures=int(sum(m.failures[lo:hi])) if m.failures else 0,
                spend=quantity * prices.get(m.metric, 0.0),
                value=quantity * factor.per_unit() if factor else None,
                hours_saved=quantity * factor.minutes / 60 if factor and factor.minutes else None,
                label=factor.label if factor else "",
            )
        )
    return ValueRealized(first, last, tuple(out), _features(dimensions, first, last))


def _features(
    dimensions: Sequence[DimensionActivity], first: date, last: date
) -> tuple[FeatureOutcome, ...]:
    out = []
    for d in dimensions:
        if d.dimension != "feature":
            continue
        lo, hi = span(d.days, first, last)
        if hi > lo:
            out.append(
                FeatureOutcome(
                    feature=d.value,
                    events=int(sum(d.events[lo:hi])),
                    successes=int(sum(d.successes[lo:hi])) if d.successes else 0,
                    failures=int(sum(d.failures[lo:hi])) if d.failures else 0,
                )
            )
    return tuple(sorted(out, key=lambda f: (-f.events, f.feature)))
