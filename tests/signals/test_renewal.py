"""Renewal at risk: a renewal close ahead with weak health or high churn risk is its own alert."""

from __future__ import annotations

from datetime import date, timedelta

from signals.alerts import AlertKey, kind_of
from signals.config import ScoringConfig
from signals.evaluate import AccountSignals, score_account
from signals.features import extract
from signals.model import AccountData
from tests.support.signal_data import account, contract, d, steady, two_level

CONFIG = ScoringConfig()
AS_OF = d("2026-06-30")
START = AS_OF - timedelta(days=120)


def score(data: AccountData) -> AccountSignals:
    return score_account(extract(data, AS_OF, CONFIG), CONFIG)


def stopped(renewal_date: date) -> AccountData:
    """Used daily, then nothing for the last four weeks."""
    return account(
        metrics=[two_level("tokens", AS_OF, 100, 0)],
        arr=382_000,
        csm="maya",
        renewal_date=renewal_date,
    )


def test_a_weak_account_renewing_in_8_days_raises_a_renewal_alert_with_its_reasons() -> None:
    s = score(stopped(renewal_date=AS_OF + timedelta(days=8)))

    key = str(AlertKey("renewal_risk", "2026-07-08"))
    assert key in s.flags
    evidence = s.flags[key]
    assert evidence.startswith("Renews on 2026-07-08 (in 8 days) at $382,000 a year: ")
    assert f"health {s.health.score:.0f} (at risk)" in evidence
    assert f"churn risk {s.churn.probability:.0%}" in evidence
    alert = next(a for a in s.alerts if a.kind == "renewal_risk")
    assert (alert.severity, alert.owner, alert.title) == ("high", "maya", "Renewal at risk")


def test_a_healthy_account_or_a_distant_renewal_raises_nothing() -> None:
    healthy = account(
        metrics=[steady("tokens", 100, START, AS_OF)], renewal_date=AS_OF + timedelta(days=8)
    )
    assert score(healthy).health.band == "healthy"
    assert not [f for f in score(healthy).flags if kind_of(f) == "renewal_risk"]

    distant = score(stopped(renewal_date=AS_OF + timedelta(days=91)))
    assert not [f for f in distant.flags if kind_of(f) == "renewal_risk"]
    at_the_edge = score(stopped(renewal_date=AS_OF + timedelta(days=90)))
    assert [f for f in at_the_edge.flags if kind_of(f) == "renewal_risk"]


def test_without_a_crm_renewal_date_the_commit_term_end_is_the_renewal() -> None:
    terms = contract(START, AS_OF + timedelta(days=29), 50_000, {"tokens": 0.01})
    data = account(metrics=[two_level("tokens", AS_OF, 100, 0)], contracts=[terms])
    s = score(data)
    assert str(AlertKey("renewal_risk", "2026-07-30")) in s.flags  # the day after the term
