"""Portfolio KPIs for the manager digest: retention, expansion, churn, time to value, movers.

Pure functions over plain records (``storage.portfolio`` gathers them). Every KPI says how
it was computed and over how many accounts; when the data cannot support a figure, its
value is None and its explanation says why, rather than showing a misleading number.

Revenue is consumption revenue: an account's usage in a period valued at its contract's
unit prices (the contract in force at the end of that period, else the latest priced one).
An account none of whose contracts prices anything is valued at its ARR instead, prorated
to the period, for the periods in which it had usage and had not churned: it can be kept
or lost, never grow or shrink. Accounts with neither prices nor ARR are left out of the
revenue KPIs, and the explanations say how many.

The periods all end on the scoring day (see :func:`periods_for`): the current quarter is
its last 90 days, the prior quarter the 90 days before, the year-ago quarter the current
one shifted back 365 days.
"""

from __future__ import annotations

from signals.portfolio.cohorts import Cohort, CohortChurn, churn_by_cohort, churned
from signals.portfolio.first_value import (
    FirstValue,
    TimeToValueKpis,
    first_value_from_data,
    first_value_of,
    records_time_to_value,
    time_to_value_kpis,
)
from signals.portfolio.movers import Move, WeekMovers, counts_by_band, counts_by_tier, week_movers
from signals.portfolio.periods import (
    COHORT_BASE,
    CURRENT,
    PRIOR_QUARTER,
    RECENT,
    YEAR_AGO,
    AccountUsage,
    Kpi,
    Period,
    Periods,
    Unit,
    periods_for,
)
from signals.portfolio.revenue import (
    RevenueMovement,
    net_revenue_retention,
    revenue,
    revenue_movement,
)

__all__ = [
    "COHORT_BASE",
    "CURRENT",
    "PRIOR_QUARTER",
    "RECENT",
    "YEAR_AGO",
    "AccountUsage",
    "Cohort",
    "CohortChurn",
    "FirstValue",
    "Kpi",
    "Move",
    "Period",
    "Periods",
    "RevenueMovement",
    "TimeToValueKpis",
    "Unit",
    "WeekMovers",
    "churn_by_cohort",
    "churned",
    "counts_by_band",
    "counts_by_tier",
    "first_value_from_data",
    "first_value_of",
    "net_revenue_retention",
    "periods_for",
    "records_time_to_value",
    "revenue",
    "revenue_movement",
    "time_to_value_kpis",
    "week_movers",
]
