"""Cards about one account: /health, its details, /value, /forecast and the tier.

Pure: an AccountView in, a Card out. Every figure comes from the stored evaluation
or the signals computed from stored usage; every card says which day it is about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from core.messages import (
    Band,
    Button,
    ButtonValue,
    Card,
    Chart,
    Fact,
    Reference,
    Section,
    Series,
    Tone,
)
from handlers.chat.lookup import AccountView
from signals.alerts import kind_of
from signals.commit import burndown, contract_in_force, money_formatter
from signals.health import LABELS
from signals.model import MetricSeries
from signals.series import dense
from signals.value import ValueRealized
from signals.words import driver_reason, percent

CHART_DAYS = 90
CHART_METRICS = 3  # a usage chart draws at most this many metrics, one panel each
STEADY = 2.0  # points of weekly change shown as a flat arrow
BAND_TONE: dict[str, Tone] = {"healthy": "good", "watch": "warning", "at risk": "danger"}
PROBLEM_FLAGS = (
    "renewal_risk",
    "health_drop",
    "usage_drop",
    "inactive",
    "bill_shock",
    "commit_under_use",
)
OPPORTUNITY_FLAGS = ("commit_early", "commit_overage", "new_use_case")


def arrow(change: float | None) -> str:
    """An arrow for the week's change: up, down or flat (nothing without a week)."""
    if change is None:
        return ""
    if abs(change) < STEADY:
        return "→"
    return "↑" if change > 0 else "↓"


def account_ref(view: AccountView) -> str:
    """The account's id."""
    return str(view.info["id"])


def health_card(view: AccountView) -> Card:
    """/health: score, band, trend, why, tier, risks, opportunities, usage chart, buttons."""
    s = view.snapshot
    change = view.change
    trend = ""
    if change is not None:  # "-0" reads as a fall: a change under a point is none
        moved = f"{change:+.0f}" if round(change) != 0 else "no change"
        trend = f" {arrow(change)} {moved} since last week"
    title = f"{view.name}: health {s.score:.0f}/100, {_band(s.band)}"
    summary = f"{title}{trend}." + (f" {s.reasons[0]}." if s.reasons else "")
    sections = [
        Section(facts=_headline_facts(view, trend)),
        Section(title="Why", items=tuple(_why(view))),
    ]
    risks, chances = _risks(view), _opportunities(view)
    if risks:
        sections.append(Section(title="Risks", items=tuple(risks)))
    if chances:
        sections.append(Section(title="Opportunities", items=tuple(chances)))
    buttons = [
        Button("Details", "details", ButtonValue("health", account_ref(view)).encode()),
        Button("Share to channel", "share", ButtonValue("health", account_ref(view)).encode()),
    ]
    buttons.append(
        Button(
            "Snooze alerts 7 days", "snooze", ButtonValue("snooze", account_ref(view), "7").encode()
        )
    )
    return Card(
        title=title,
        summary=summary,
        sections=tuple(sections),
        chart=usage_chart(view),
        buttons=tuple(buttons),
        footer=_footer(view),
        tone=BAND_TONE.get(s.band, "info"),
    )


def _band(band: str) -> str:
    return band.replace("_", " ")


def _headline_facts(view: AccountView, trend: str) -> tuple[Fact, ...]:
    s, info = view.snapshot, view.info
    facts = [
        Fact("Health", f"{s.score:.0f}/100 ({_band(s.band)}){trend}"),
        Fact("Tier", f"{s.tier} since {s.tier_since}"),
        Fact("Churn risk", percent(s.churn_risk)),
        Fact("Expansion likelihood", percent(s.expansion_likelihood)),
    ]
    if info.get("arr"):
        facts.append(Fact("ARR", money_formatter("USD")(float(info["arr"]))))
    if info.get("renewal_date"):
        facts.append(Fact("Renewal", str(info["renewal_date"])))
    if info.get("csm"):
        facts.append(Fact("CSM", str(info["csm"])))
    return tuple(facts)


def _why(view: AccountView) -> list[str]:
    lines = list(view.snapshot.reasons)
    movers = view.snapshot.explained("movers") or []
    lines += [f"Since last week: {m}" for m in movers[:2] if isinstance(m, str)]
    return lines or ["Not enough history yet to say what drives the score."]


def _flag_texts(view: AccountView, kinds: Sequence[str]) -> list[str]:
    texts: Mapping[str, Any] = view.snapshot.explained("flags") or {}
    return [str(texts[k]) for k in view.snapshot.flags if kind_of(k) in kinds and k in texts]


def risks(view: AccountView) -> list[str]:
    """The account's problems in the /health card's words (at most four)."""
    return _risks(view)


def opportunities(view: AccountView) -> list[str]:
    """The account's opportunities in the /health card's words (at most four)."""
    return _opportunities(view)


def _risks(view: AccountView) -> list[str]:
    drivers = view.snapshot.explained("churn_drivers") or []
    found = _flag_texts(view, PROBLEM_FLAGS)
    if view.snapshot.churn_risk >= 0.2:
        found += [driver_reason("churn risk", str(d)) for d in drivers[:2]]
    return found[:4]


def _opportunities(view: AccountView) -> list[str]:
    drivers = view.snapshot.explained("expansion_drivers") or []
    found = _flag_texts(view, OPPORTUNITY_FLAGS)
    if view.snapshot.expansion_likelihood >= 0.2:
        found += [driver_reason("expansion likelihood", str(d)) for d in drivers[:2]]
    return found[:4]


def _footer(view: AccountView) -> str:
    if view.live:
        return (
            f"Not in a daily scoring yet: a live estimate as of {view.as_of}, "
            "without peer comparison or tier history."
        )
    stale = view.as_of - view.snapshot.day
    text = f"Scored on {view.snapshot.day} from usage through {view.as_of}."
    return text + (f" The last scoring is {stale.days} days old." if stale.days > 1 else "")


def usage_chart(view: AccountView) -> Chart | None:
    """Daily usage of the account's busiest metrics (up to three, one panel each) over the
    last 90 days, each with its 7-day mean."""
    busiest = _busiest_metrics(view.data.metrics, view.as_of, CHART_METRICS)
    if not busiest:
        return None
    first = view.as_of - timedelta(days=CHART_DAYS - 1)
    days = tuple(first + timedelta(days=i) for i in range(CHART_DAYS))
    series: list[Series] = []
    for panel, metric in enumerate(busiest):
        values = dense(metric.days, metric.quantity, first, view.as_of)
        mean = tuple(
            sum(values[max(0, i - 6) : i + 1]) / len(values[max(0, i - 6) : i + 1])
            for i in range(len(values))
        )
        series += [
            Series(metric.metric, tuple(values), panel=panel),
            Series("7-day average", mean, "dashed", panel=panel),
        ]
    main = busiest[0]
    names = ", ".join(m.metric for m in busiest)
    return Chart(
        title=f"{view.name}: {names} per day",
        alt_text=" ".join(
            _usage_alt(view, m.metric, dense(m.days, m.quantity, first, view.as_of))
            for m in busiest
        ),
        days=days,
        series=tuple(series),
        y_label=main.metric,
        filename=f"usage-{account_ref(view)}.png",
    )


def _busiest_metrics(
    metrics: Sequence[MetricSeries], as_of: date, limit: int
) -> list[MetricSeries]:
    """The metrics with the most events in the last 90 days, busiest first."""
    since = as_of - timedelta(days=CHART_DAYS)
    recent = [
        (sum(e for d, e in zip(m.days, m.events, strict=True) if d > since), m) for m in metrics
    ]
    ranked = sorted(((n, m) for n, m in recent if n > 0), key=lambda p: (-p[0], p[1].metric))
    return [m for _, m in ranked[:limit]]


def _usage_alt(view: AccountView, metric: str, values: Sequence[float]) -> str:
    last4, prev4 = sum(values[-28:]), sum(values[-56:-28])
    change = f", {last4 / prev4 - 1:+.0%} on the 4 weeks before" if prev4 else ""
    return f"{metric} per day for {view.name}: {last4:,.0f} in the last 4 weeks{change}."


def details_card(view: AccountView) -> Card:
    """Every component of the score with its weight and why, and the model drivers."""
    snap = view.snapshot
    components = snap.explained("components") or []
    facts = tuple(
        Fact(
            f"{LABELS.get(c['name'], c['name'])} (weight {c['weight']:.0%})",
            "n/a" if c["score"] is None else f"{c['score']:.0f}",
        )
        for c in components
    )
    why = tuple(
        f"{LABELS.get(c['name'], c['name'])}: {c['why']}" for c in components if c.get("why")
    )
    sections = [Section(title="Components", facts=facts), Section(title="Why", items=why)]
    for key, title in (("churn_drivers", "Churn drivers"), ("expansion_drivers", "Expansion")):
        if snap.explained(key):
            sections.append(Section(title=title, items=tuple(snap.explained(key))))
    anomalies = [_anomaly(a) for a in (snap.explained("anomalies") or [])[:5]]
    if anomalies:
        sections.append(Section(title="Unusual days", items=tuple(anomalies)))
    return Card(
        title=f"{view.name}: how the health score is made",
        summary=f"{view.name}: health {view.snapshot.score:.0f}, component by component.",
        sections=tuple(sections),
        footer=_footer(view),
    )


def _anomaly(a: Mapping[str, Any]) -> str:
    return (
        f"{a['day']}: {a['metric']} {a['actual']:,.0f} against about {a['expected']:,.0f} "
        f"expected ({a['direction']})"
    )


def outcomes_unit(per_money: float) -> int:
    """The spend to count successful outcomes per ($1, $100, $10,000 or $1M): the first
    that buys at least one, so the figure never reads "0.0"."""
    return next((u for u in (1, 100, 10_000, 1_000_000) if per_money * u >= 1), 1_000_000)


def value_card(view: AccountView, value: ValueRealized, period: str, period_key: str) -> Card:
    """/value: value realized in business terms, outcomes per spend, success, peers."""
    currency = _currency(view)
    money = money_formatter(currency)
    facts = [Fact("Spend", money(value.spend))]
    if value.value is not None:
        facts.append(Fact("Value realized", money(value.value)))
    if value.hours_saved:
        facts.append(Fact("Hours saved", f"{value.hours_saved:,.0f}"))
    if value.return_on_spend is not None:
        facts.append(Fact("Return on spend", f"{value.return_on_spend:.1f}x"))
    per = value.outcomes_per_spend
    if per is not None and per > 0:
        unit = outcomes_unit(per)
        facts.append(Fact(f"Successful outcomes per {money(unit)}", f"{per * unit:,.1f}"))
    if value.success_rate is not None:
        facts.append(Fact("Success rate", f"{value.success_rate:.0%}"))
    sections = [Section(text=value.explain(), facts=tuple(facts))]
    rates = _success_rates(value)
    if rates:
        sections.append(Section(title="Success rates", items=tuple(rates)))
    sections.append(Section(title="Peers", text=_peer_sentence(view)))
    return Card(
        title=f"{view.name}: value realized, {period}",
        summary=f"{view.name}, {period}: {value.explain()}",
        sections=tuple(sections),
        buttons=(
            Button(
                "Share to channel",
                "share",
                ButtonValue("value", account_ref(view), period_key).encode(),
            ),
        ),
        footer=f"{value.first} to {value.last}, from stored usage and configured value factors.",
        tone="good" if (value.return_on_spend or 0) >= 1 else "info",
    )


def _currency(view: AccountView) -> str:
    contract = contract_in_force(view.data.contracts, view.as_of)
    return contract.currency if contract is not None else "USD"


def _success_rates(value: ValueRealized) -> list[str]:
    rates = [
        f"{m.metric}: {m.success_rate:.0%} of {m.successes + m.failures:,} judged"
        for m in value.metrics
        if m.success_rate is not None
    ]
    rates += [
        f"{f.feature}: {f.success_rate:.0%} of {f.successes + f.failures:,} judged"
        for f in value.features
        if f.success_rate is not None
    ]
    return rates[:8]


def _peer_sentence(view: AccountView) -> str:
    peer = view.snapshot.components.get("peer")
    segment = view.info.get("segment") or "same-segment"
    if peer is None or view.live:
        return f"Too few {segment} peers scored yet to compare."
    if peer >= 50:
        return f"Uses more than {peer:.0f}% of {segment} peers."
    return f"Uses less than {100 - peer:.0f}% of {segment} peers."  # not "above 3%"


def forecast_card(view: AccountView) -> Card:
    """/forecast: commit burndown, exhaustion against term end, month-end spend vs budget."""
    fc, spend = view.features.commit, view.features.spend
    sections = []
    if fc is not None:
        sections.append(Section(title="Commit", text=fc.explain(), facts=_commit_facts(view)))
    if spend is not None:
        sections.append(Section(title="This month", text=spend.explain()))
    if not sections:
        text = "No contract with a commit and unit prices covers today, so there is no forecast."
        return Card(title=f"{view.name}: no commit to forecast", summary=text, footer=_footer(view))
    status = fc.status if fc else "none"
    tone: Tone = "warning" if status in ("early", "under_use") else "info"
    if spend is not None and spend.bill_shock:
        tone = "danger"
    headline = fc.explain() if fc else spend.explain() if spend else ""
    return Card(
        title=f"{view.name}: commit forecast",
        summary=f"{view.name}: {headline}",
        sections=tuple(sections),
        chart=burndown_chart(view),
        buttons=(
            Button(
                "Share to channel", "share", ButtonValue("forecast", account_ref(view)).encode()
            ),
        ),
        footer=f"Usage through {view.as_of}; burn is the average of the last 28 days.",
        tone=tone,
    )


def _commit_facts(view: AccountView) -> tuple[Fact, ...]:
    fc = view.features.commit
    if fc is None:
        return ()
    money = money_formatter(fc.currency)
    facts = [
        Fact("Committed", money(fc.committed)),
        Fact("Used", f"{money(fc.consumed)} ({fc.utilization:.0%})"),
        Fact("Term", f"{fc.start} to {fc.end} ({fc.elapsed_fraction:.0%} gone)"),
        Fact("Burn", f"{money(fc.daily_burn)}/day"),
    ]
    if fc.exhaustion_date:
        facts.append(Fact(*_run_out_fact(fc.exhaustion_date, view.as_of)))
    return tuple(facts)


def burndown_chart(view: AccountView) -> Chart | None:
    """The commit used so far against an even pace over the whole term, with the current
    burn projected to the term end (and its likely range), the commit and today marked."""
    contract = contract_in_force(view.data.contracts, view.as_of)
    fc = view.features.commit
    if contract is None or fc is None or not contract.committed_amount:
        return None
    points = burndown(view.data.metrics, contract, view.as_of)
    if not points:
        return None
    committed = contract.committed_amount
    term = (contract.end - contract.start).days + 1
    days = tuple(contract.start + timedelta(days=i) for i in range(term))
    used = {d: committed - left for d, left in points}
    today = points[-1][0]
    spent = used[today]
    slow, fast = fc.burn_range

    def ahead(day: date, burn: float) -> float | None:
        return spent + burn * (day - today).days if day >= today else None

    series = [
        Series("Used", tuple(used.get(d) for d in days)),
        Series("Even pace", tuple(committed * (i + 1) / term for i in range(term)), "dotted"),
    ]
    bands: tuple[Band, ...] = ()
    refs = [Reference("Commit", value=committed)]
    if today < contract.end:
        series.append(
            Series(
                f"Projected at {money_formatter(fc.currency)(fc.daily_burn)}/day",
                tuple(ahead(d, fc.daily_burn) for d in days),
                "dashed",
            )
        )
        bands = (
            Band(
                "Likely range",
                tuple(ahead(d, slow) for d in days),
                tuple(ahead(d, fast) for d in days),
            ),
        )
        refs.append(Reference("Today", day=today))
    if fc.exhaustion_date and fc.exhaustion_date <= contract.end:
        refs.append(
            Reference(_ran_out_label(fc.exhaustion_date, view.as_of), day=fc.exhaustion_date)
        )
    return Chart(
        title=f"{view.name}: commit used ({fc.currency}), term {contract.start} to {contract.end}",
        alt_text=f"Commit used by {view.name}: {fc.explain()}",
        days=days,
        series=tuple(series),
        y_label=f"Used ({fc.currency})",
        references=tuple(refs),
        filename=f"burndown-{account_ref(view)}.png",
        bands=bands,
        unit=fc.currency,
    )


def _ran_out_label(day: date, as_of: date) -> str:
    return "Ran out" if day <= as_of else "Runs out"


def _run_out_fact(day: date, as_of: date) -> tuple[str, str]:
    """When the commit runs (or ran) out, in words relative to the scoring day."""
    days = (day - as_of).days
    if days < 0:
        return "Ran out", f"{day} ({-days} days ago)"
    if days == 0:
        return "Runs out", f"{day} (today)"
    return "Runs out", f"{day} (in {days} days)"


def tier_card(view: AccountView) -> Card:
    """/steward tier: the service tier, since when, and why."""
    s = view.snapshot
    info: Mapping[str, Any] = s.explained("tier") or {}
    facts = [Fact("Tier", s.tier), Fact("Since", str(s.tier_since))]
    if info.get("value_tier") and info.get("value_tier") != s.tier:
        facts.append(Fact("Tier by value", str(info["value_tier"])))
    if info.get("escalated"):
        facts.append(Fact("Escalated", "yes: health fell below the escalation line"))
    reason = str(info.get("reason") or "No change of tier recorded.")
    return Card(
        title=f"{view.name}: {s.tier} tier",
        summary=f"{view.name} is in the {s.tier} tier since {s.tier_since}. {reason}",
        sections=(Section(text=reason, facts=tuple(facts)),),
        footer=_footer(view),
    )
