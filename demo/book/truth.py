"""What really happens to each account: the :class:`Truth` record and its labels.

The outcomes are read off the noise-free usage level and the generated spend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from demo.book.catalog import TERM_DAYS
from demo.book.shapes import Curve

CHURN_LEVEL = 0.4  # churned: usage stopped, or fell to 40 % of its baseline or below
EXPAND_LEVEL = 1.5  # expanded: usage reached 150 % of its baseline


@dataclass(frozen=True, slots=True)
class Truth:
    """What really happens to one account; days are the account's local days.

    ``churns``/``expands`` say whether it happens within the book, judged on the
    noise-free level (``CHURN_LEVEL``, ``EXPAND_LEVEL``); ``warning_date`` is when the
    leading indicators start (None: none, e.g. a churner without warning signs).
    ``commit_pace`` is the spend over the contract's days in the book divided by the
    commit's pro-rata amount for those days (1.0: on pace).
    """

    account: str
    shape: str
    segment: str
    baseline_daily_spend: float
    change_day: int | None  # days after the book's start; None for a shape without a change
    change_date: date | None
    warning_date: date | None
    churns: bool
    churn_date: date | None
    expands: bool
    expand_date: date | None
    exhaust_date: date | None  # the day cumulative spend in the term reached the commit
    bill_shock_date: date | None
    first_value_date: date | None  # first meaningful usage (slow_start)
    commit_pace: float

    def churned_by(self, day: date) -> bool:
        """Has the account churned on or before this day?"""
        return self.churn_date is not None and self.churn_date <= day

    def expanded_by(self, day: date) -> bool:
        """Has the account expanded on or before this day?"""
        return self.expand_date is not None and self.expand_date <= day

    def churns_within(self, cutoff: date, horizon_days: int) -> bool:
        """Does it churn after the cut-off, within the horizon?"""
        return _within(self.churn_date, cutoff, horizon_days)

    def expands_within(self, cutoff: date, horizon_days: int) -> bool:
        """Does it expand after the cut-off, within the horizon?"""
        return _within(self.expand_date, cutoff, horizon_days)

    def label(
        self, cutoff: date, horizon_days: int = 90
    ) -> Literal["churned", "churn", "expand", "expanded", "stable"]:
        """The outcome a signal computed at the cut-off should foresee."""
        if self.churned_by(cutoff):
            return "churned"
        if self.churns_within(cutoff, horizon_days):
            return "churn"
        if self.expands_within(cutoff, horizon_days):
            return "expand"
        if self.expanded_by(cutoff):
            return "expanded"
        return "stable"


def _within(moment: date | None, cutoff: date, horizon_days: int) -> bool:
    return moment is not None and cutoff < moment <= cutoff + timedelta(days=horizon_days)


def level_outcomes(curve: Curve) -> tuple[int | None, int | None]:
    """(churn day, expand day) of the noise-free level, None where it does not happen.

    It churns once the level, having been at 80 % of its baseline, falls to
    ``CHURN_LEVEL`` or below; it expands once the level reaches ``EXPAND_LEVEL``.
    """
    level = [a + b for a, b in zip(curve.level, curve.extra, strict=True)]
    days = len(level)
    expand_day = next((t for t in range(days) if level[t] >= EXPAND_LEVEL), None)
    ref = next((t for t in range(days) if level[t] >= 0.8), None)
    churn_day = None
    if ref is not None:
        churn_day = next((t for t in range(ref, days) if level[t] <= CHURN_LEVEL), None)
    return churn_day, expand_day


def commit_outcome(
    spend: Sequence[float], term_start: int, committed: float
) -> tuple[int | None, float]:
    """(the day spend in the term reached the commit, the term's pace within the book)."""
    exhaust_day, in_term, term_days_in_book = None, 0.0, 0
    for t in range(term_start, min(len(spend), term_start + TERM_DAYS)):
        in_term += spend[t]
        term_days_in_book += 1
        if exhaust_day is None and in_term >= committed:
            exhaust_day = t
    pace = in_term / (committed * term_days_in_book / TERM_DAYS) if term_days_in_book else 0.0
    return exhaust_day, pace
