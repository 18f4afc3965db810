"""Alerts: conditions that appear (or clear) between two evaluations of an account."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from signals.config import AlertRules
from signals.features import AccountFeatures
from signals.series import pct
from signals.words import in_days, percent

KEY_FORM = re.compile(
    r"(?P<kind>[^:@]*)(?::(?P<detail>.*?))?(?:@(?P<day>\d{4}-\d{2}-\d{2}))?", re.S
)
# Opportunities for the AE: never listed or counted as problems.
OPPORTUNITY_KINDS = frozenset({"commit_early", "commit_overage", "new_use_case"})
# News, not problems: nothing to resolve, so no "Resolved:" follow-up and no "win".
NO_FOLLOW_UP = OPPORTUNITY_KINDS
# A condition that grew into another is not "resolved": early -> overage is the same news.
SUCCESSORS: dict[str, frozenset[str]] = {"commit_early": frozenset({"commit_overage"})}
# What a cleared condition is called: the good news in words, not "Resolved: <problem>".
CLEARED: dict[str, str] = {
    "health_drop": "Health recovered",
    "usage_drop": "Usage recovered",
    "inactive": "Meaningful usage is back",
    "bill_shock": "Bill-shock risk cleared",
    "commit_under_use": "Commit back on pace",
    "ttv_missed": "First value reached",
    "renewal_risk": "Renewal no longer at risk",
}

KINDS: dict[str, tuple[str, str, str]] = {
    # kind: (severity, owner role, title)
    "health_drop": ("high", "csm", "Health dropped"),
    "usage_drop": ("high", "csm", "Usage dropped"),
    "inactive": ("high", "csm", "No meaningful usage"),
    "bill_shock": ("medium", "csm", "Bill-shock risk"),
    "commit_early": ("medium", "ae", "Commit runs out early"),
    "commit_overage": ("medium", "ae", "Commit in overage"),
    "commit_under_use": ("medium", "csm", "Commit under-used"),
    "new_use_case": ("info", "ae", "New use case"),
    "ttv_missed": ("medium", "csm", "Time to value missed"),
    "tier_change": ("info", "csm", "Tier changed"),
    "renewal_risk": ("high", "csm", "Renewal at risk"),
}


@dataclass(frozen=True, slots=True)
class AlertKey:
    """What identifies one alert of an account: ``kind[:detail][@day]``.

    ``detail`` tells conditions of one kind apart (``new_use_case:voice``); ``day``
    marks an event that happens once (``tier_change@2026-11-02``). The text form is
    what is stored, so it never changes.
    """

    kind: str
    detail: str | None = None
    day: date | None = None

    def __str__(self) -> str:
        detail = f":{self.detail}" if self.detail is not None else ""
        day = f"@{self.day.isoformat()}" if self.day is not None else ""
        return f"{self.kind}{detail}{day}"

    @classmethod
    def parse(cls, text: str) -> AlertKey:
        """Read a stored key back (the inverse of ``str``; a detail may hold ``:`` or ``@``)."""
        match = KEY_FORM.fullmatch(text)
        if match is None:  # not a key Steward writes ("x@y"): its kind is what comes first
            return cls(re.split(r"[:@]", text, maxsplit=1)[0])
        day = match["day"]
        return cls(match["kind"], match["detail"], date.fromisoformat(day) if day else None)


def kind_of(key: str) -> str:
    """The kind of alert a stored key (or a snapshot's flag) is about."""
    return AlertKey.parse(key).kind


@dataclass(frozen=True, slots=True)
class Alert:
    """One condition that appeared (or, when ``resolved``, cleared) for an account."""

    account_id: str
    day: date
    kind: str
    key: str  # the flag, e.g. "new_use_case:voice"; unique per account and condition
    severity: str
    owner: str | None  # the CSM, or the AE for expansion signals
    owner_role: str
    title: str
    evidence: str
    resolved: bool = False


def renewal_day(f: AccountFeatures) -> date | None:
    """The next renewal: the CRM's renewal date, else the day after the commit term ends."""
    if f.account.renewal_date is not None and f.account.renewal_date >= f.as_of:
        return f.account.renewal_date
    fc = f.commit
    if fc is not None and fc.end >= f.as_of:
        return fc.end + timedelta(days=1)
    return None


def renewal_risk(
    f: AccountFeatures,
    score: float,
    band: str,
    week_ago: float | None,
    churn_risk: float,
    rules: AlertRules,
) -> str | None:
    """Why the next renewal is at risk, when it falls within ``renewal_days``; else None.

    At risk: health in the at-risk band, or fallen by ``health_drop_points`` in a week,
    or churn risk at or above ``renewal_churn_risk``, or a commit on course to be
    under-used (a contraction at renewal). A watch-band score alone is not enough:
    it is said beside a stronger reason, never as the reason.
    """
    day = renewal_day(f)
    if day is None or (day - f.as_of).days > rules.renewal_days:
        return None
    why = []
    fell = week_ago is not None and week_ago - score >= rules.health_drop_points
    if week_ago is not None and fell and not _after_a_spike(f):
        why.append(f"health fell {week_ago - score:.0f} points in a week")
    if churn_risk >= rules.renewal_churn_risk:
        why.append(f"churn risk {percent(churn_risk)}")
    fc = f.commit
    if fc is not None and fc.state == "under_use":
        used = math.floor(fc.projected_utilization * 100)  # 69.6% is under 70%: "69%"
        why.append(f"on course to use {used}% of the commit")
    if band == "at risk" or (why and band != "healthy"):
        why.insert(0, f"health {score:.0f} ({band})")
    if not why:
        return None
    when = in_days((day - f.as_of).days)
    arr = f" at ${f.annual_value:,.0f} a year" if f.annual_value else ""
    return f"Renews on {day.isoformat()} ({when}){arr}: {'; '.join(why)}."


def flags(
    f: AccountFeatures,
    score: float,
    week_ago: float | None,
    rules: AlertRules,
    *,
    band: str | None = None,
    churn_risk: float | None = None,
    held: Iterable[str] = (),
) -> dict[str, str]:
    """The conditions in force for an account today, each with its evidence.

    ``held`` are the flags of the previous evaluation: a commit that runs out early
    stays flagged while its plain forecast still runs out early by half the margin
    (hysteresis: a noisy week does not open and close the alert again and again).
    """
    held = set(held)
    out: dict[str, str] = {}
    if band is not None and churn_risk is not None:
        renewal = renewal_risk(f, score, band, week_ago, churn_risk, rules)
        day = renewal_day(f)
        if renewal is not None and day is not None:
            out[str(AlertKey("renewal_risk", day.isoformat()))] = renewal
    c = f.consumption
    spike_left = _after_a_spike(f)  # the week's fall is a runaway job leaving the baseline
    if week_ago is not None and week_ago - score >= rules.health_drop_points and not spike_left:
        out["health_drop"] = f"Health {week_ago:.0f} -> {score:.0f} in a week."
    dropped = c.trend is not None and c.trend <= math.log(1 - rules.usage_drop_fraction)
    if dropped and not spike_left:
        out["usage_drop"] = c.explain()
    days = c.days_since_meaningful
    if days is not None and days >= rules.inactive_days:
        out["inactive"] = f"No meaningful usage for {days} days (last {c.last_usage})."
    if f.spend is not None and f.spend.bill_shock:
        # keyed by its month: when the month ends the warning expires, nothing "resolves"
        out[str(AlertKey("bill_shock", f"{f.spend.month:%Y-%m}"))] = f.spend.explain()
    state = f.commit.state if f.commit is not None else ""
    early = state == "runs_out_early" or ("commit_early" in held and _still_early(f, rules))
    if f.commit is not None and early and "usage_drop" not in out:
        # usage falling away is no expansion, whatever the burn of the weeks before says
        out["commit_early"] = f.commit.explain("runs_out_early")
    if f.commit is not None and state == "overage":
        out["commit_overage"] = f.commit.explain()
    if f.commit is not None and state == "under_use":
        out["commit_under_use"] = f.commit.explain()
    for name, first in f.adoption.new_features + f.adoption.new_teams:
        out[str(AlertKey("new_use_case", name))] = f"{name} first used on {first}; {_growth(f)}"
    fv = f.ttv.first_value
    if fv is not None and fv.reached is None and fv.missed:
        out["ttv_missed"] = fv.explain()
    return out


def _after_a_spike(f: AccountFeatures) -> bool:
    """The "drop" is a runaway job leaving the baseline: a spike in it, a steady last week.

    A spike in the baseline window inflates it, so usage back at its usual level reads
    as a fall; an account really falling away is still falling in its last week.
    """
    c = f.consumption
    return c.baseline_spiked and c.short_trend is not None and c.short_trend > math.log(0.8)


def _still_early(f: AccountFeatures, rules: AlertRules) -> bool:
    fc = f.commit
    if fc is None or fc.state not in ("on_pace", "runs_out_early") or fc.days_early is None:
        return False
    return fc.days_early >= rules.early_exhaustion_days / 2


def follows_up(key: str, now: Iterable[str], as_of: date | None = None) -> bool:
    """Whether a condition that cleared gets a "cleared" word.

    Not for news, not for a condition grown into another, and not for one whose period
    simply ended: a month's bill-shock warning when the month is over (the invoice is
    what it is), a renewal at risk once its day has come (it renewed or it did not).
    """
    parsed = AlertKey.parse(key)
    kind = parsed.kind
    if kind in NO_FOLLOW_UP:
        return False
    if kind == "bill_shock" and (
        parsed.detail is None  # a key from before months were kept: its month is unknown
        or as_of is None
        or parsed.detail != f"{as_of:%Y-%m}"
    ):
        return False
    if kind == "renewal_risk" and as_of is not None and parsed.detail is not None:
        try:
            if date.fromisoformat(parsed.detail) <= as_of:
                return False
        except ValueError:
            pass
    grown = SUCCESSORS.get(kind, frozenset())
    return not any(kind_of(k) in grown for k in now)


def cleared_title(kind: str) -> str:
    """The title of a cleared condition: "Usage recovered", "Bill-shock risk cleared"."""
    return CLEARED.get(kind) or f"{KINDS[kind][2]} cleared"


def _growth(f: AccountFeatures) -> str:
    trend = f.consumption.trend
    return f"usage {pct(trend)} on the month before." if trend is not None else "a new account."


def transitions(
    f: AccountFeatures,
    now: Mapping[str, str],
    before: Iterable[str] | None,
    tier_change: str | None = None,
) -> list[Alert]:
    """Alerts for flags that appeared since the last evaluation, and for those that cleared.

    With no earlier evaluation, every flag in force is new.
    """
    previous = set(before or ())
    out = [_alert(f, key, evidence) for key, evidence in sorted(now.items()) if key not in previous]
    out += [
        _alert(f, key, "The condition has cleared.", resolved=True)
        for key in sorted(previous - set(now))
        if before is not None and follows_up(key, now, f.as_of)
    ]
    if tier_change:
        out.append(_alert(f, "tier_change", tier_change))
    return out


def _alert(f: AccountFeatures, key: str, evidence: str, *, resolved: bool = False) -> Alert:
    kind = kind_of(key)
    severity, role, title = KINDS[kind]
    owner = f.account.ae if role == "ae" and f.account.ae else f.account.csm
    return Alert(
        account_id=f.account.id,
        day=f.as_of,
        kind=kind,
        key=key,
        severity="info" if resolved else severity,
        owner=owner,
        owner_role="ae" if role == "ae" and f.account.ae else "csm",
        title=cleared_title(kind) if resolved else title,
        evidence=evidence,
        resolved=resolved,
    )
