"""What `steward demo` prints: the jobs' messages from the outbox, a backtest, a /health.

Every card comes from the same neutral message model Slack and Teams render, here
through the console renderer (``bot.adapters.console``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Protocol

from rich.console import Console
from rich.table import Table

from core.messages import Card, Fact, Section
from demo.build import ALERTS_CHANNEL, MANAGER_CHANNEL, Demo, csm_channel
from handlers.chat.context import display_name
from services import scoring
from signals.model import Snapshot
from storage import repository, snapshots
from storage.db import read_connection

ALERTS_SHOWN = 4
TIER_CHANGES_SHOWN = 6
BACKTEST_BACK_DAYS = (210, 180, 150, 120)  # monthly cut-offs, each with 90 days to follow
BACKTEST_HORIZON_DAYS = 90
TONE_ORDER = {"danger": 0, "warning": 1, "info": 2, "good": 3}
TIER_CHANGED = "Tier changed"


class Terminal(Protocol):
    """Where the demo prints: the console adapter's session (bot.adapters.console)."""

    def render(self, card: Card) -> str:
        """The card as terminal text."""
        ...

    def answer(self, line: str) -> str:
        """The rendered answer to a typed command."""
        ...

    def delivered(
        self, *, channel: str, kind: str, since: datetime | None = None, limit: int = 1000
    ) -> list[Card]:
        """The cards of one kind delivered to a console channel, newest first."""
        ...


def show_book(demo: Demo, out: Console) -> None:
    """Say which book this is, and whether it was stored now or found."""
    spec = demo.spec
    where = demo.services.engine.url.database
    out.print(
        f"Demo book: seed {spec.seed}, {spec.accounts} accounts, usage {spec.start} to "
        f"{spec.end}, in {where}.",
        markup=False,
        soft_wrap=True,
    )
    if demo.reused:
        out.print(
            "Reused the book already in the database (same seed and size): nothing ingested. "
            "Add --fresh to build it again.",
            markup=False,
            soft_wrap=True,
        )
        return
    counts = ", ".join(f"{n:,} {kind}" for kind, n in demo.accepted.items())
    seconds = sum(demo.timings.phases.get(p, 0.0) for p in ("generate", "ingest"))
    out.print(
        f"Ingested {counts} through validation, deduplication and daily rollups "
        f"in {seconds:.1f} s.",
        markup=False,
        soft_wrap=True,
    )


def show_jobs(demo: Demo, out: Console) -> None:
    """The worker jobs' one-line summaries."""
    for line in demo.jobs:
        out.print(line, markup=False, soft_wrap=True)


def heading(out: Console, text: str) -> None:
    """A rule with a title between the parts of the output."""
    out.print()
    out.rule(text, style="dim", characters="-")


def print_card(out: Console, text: str) -> None:
    """Print rendered card text as it is (no markup, no highlighting, no re-wrapping)."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def show_digests(demo: Demo, out: Console, terminal: Terminal) -> None:
    """This morning's manager digest and the featured CSM's digest, as delivered."""
    manager = terminal.delivered(channel=MANAGER_CHANNEL, kind="manager", limit=5)
    heading(out, f"This morning's manager digest (posted to {MANAGER_CHANNEL})")
    print_card(out, terminal.render(manager[0]) if manager else "No manager digest was posted.")
    channel = csm_channel(demo.csm)
    digest = terminal.delivered(channel=channel, kind="digest", limit=5)
    heading(out, f"{display_name(demo.csm)}'s morning digest (posted to {channel})")
    print_card(out, terminal.render(digest[0]) if digest else "No CSM digest was posted.")


def show_alerts(demo: Demo, out: Console, terminal: Terminal) -> None:
    """The alerts this morning's pass announced, the most severe in full; the tier moves."""
    cards = terminal.delivered(channel=ALERTS_CHANNEL, kind="alert", since=demo.morning)
    news = sorted(
        (c for c in cards if TIER_CHANGED not in c.title),
        key=lambda c: (TONE_ORDER[c.tone], c.title),
    )
    week = terminal.delivered(
        channel=ALERTS_CHANNEL, kind="alert", since=demo.morning - timedelta(days=7)
    )
    moves = [c for c in week if TIER_CHANGED in c.title]
    heading(out, f"Latest alerts ({len(news)} messages to {ALERTS_CHANNEL})")
    print_card(out, terminal.render(alerts_overview(news)))
    for card in news[:ALERTS_SHOWN]:
        out.print()
        print_card(out, terminal.render(card))
    heading(out, "Tier changes announced this morning and a week ago")
    print_card(out, terminal.render(tier_changes(moves)))


def alerts_overview(cards: list[Card]) -> Card:
    """A count of the alert messages by what they announce."""
    kinds: Counter[str] = Counter()
    for card in cards:
        for section in card.sections:
            kinds[section.title or "other"] += 1
    facts = tuple(Fact(kind, f"{n:,}") for kind, n in kinds.most_common())
    shown = min(ALERTS_SHOWN, len(cards))
    return Card(
        title="Alerts this morning",
        summary=f"{len(cards)} alert messages; the {shown} most severe follow.",
        sections=(Section(facts=facts),) if facts else (Section(text="No alert opened."),),
        footer=f"The {shown} most severe follow, as the channel got them."
        if cards
        else "Nothing changed enough since last week to announce.",
    )


def tier_changes(cards: list[Card]) -> Card:
    """The tier moves announced this morning, one line each."""
    items = [
        f"{card.title.split(':', 1)[0]}: {section.text}"
        for card in cards
        for section in card.sections
        if section.title == TIER_CHANGED
    ]
    more = len(items) - TIER_CHANGES_SHOWN
    shown = items[:TIER_CHANGES_SHOWN] + ([f"…and {more} more"] if more > 0 else [])
    return Card(
        title=f"Tier changes ({len(items)})",
        summary=f"{len(items)} accounts changed tier in the last two alert passes.",
        sections=(Section(items=tuple(shown)) if shown else Section(text="No tier changed."),),
        footer="Tiers move with hysteresis and a minimum dwell time, so accounts do not flap.",
    )


def show_backtest(demo: Demo, out: Console) -> None:
    """How well past scores ranked the churn and expansion that followed, at several cut-offs.

    One cut-off's AUC swings with a handful of accounts; a rolling backtest over four
    monthly cut-offs shows the spread, and the verdict compares averages.
    """
    cutoffs = [demo.spec.end - timedelta(days=back) for back in BACKTEST_BACK_DAYS]
    heading(
        out,
        f"Backtest: scored at {len(cutoffs)} monthly cut-offs, outcomes over the next "
        f"{BACKTEST_HORIZON_DAYS} days",
    )
    config = demo.services.settings.scoring_config()
    results = [
        scoring.backtest(
            demo.services.engine, as_of=cutoff, horizon_days=BACKTEST_HORIZON_DAYS, config=config
        )
        for cutoff in cutoffs
    ]
    table = Table("cut-off", "outcome", "cases", "model AUC", "best simple baseline")
    for result in results:
        for target, cases in (("churn", result.churned), ("expansion", result.expanded)):
            model, base = result.model(target), result.best_baseline(target)
            table.add_row(
                str(result.as_of),
                target,
                str(cases),
                _auc(model.auc if model else None),
                f"{_auc(base.auc)} ({base.predictor})" if base else "n/a",
            )
    out.print(table)
    for target in ("churn", "expansion"):
        out.print(_verdict(target, results), markup=False, soft_wrap=True)
    out.print(
        "For one cut-off in full (every predictor, lift by decile): "
        f".venv/bin/steward --database {demo.services.engine.url.database} backtest "
        f"--as-of {cutoffs[-1]} --horizon {BACKTEST_HORIZON_DAYS}d",
        markup=False,
        soft_wrap=True,
    )


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _verdict(target: str, results: list[scoring.BacktestResult]) -> str:
    """Mean AUC of the model against the baseline with the best mean AUC, over the cut-offs."""
    aucs: dict[tuple[str, bool], list[float]] = {}
    for result in results:
        for r in result.results:
            if r.target == target and r.auc is not None:
                aucs.setdefault((r.predictor, r.is_model), []).append(r.auc)
    means = {key: sum(v) / len(v) for key, v in aucs.items() if len(v) == len(results)}
    model = [(k, m) for k, m in means.items() if k[1]]
    baselines = [(k, m) for k, m in means.items() if not k[1]]
    if not model or not baselines:
        return f"{target}: too few cases at some cut-off to compare."
    (_, model_mean), ((base_name, _), base_mean) = model[0], max(baselines, key=lambda x: x[1])
    wins = sum(
        1
        for r in results
        if (m := r.model(target)) is not None
        and (b := r.best_baseline(target)) is not None
        and (m.auc or 0.0) > (b.auc or 0.0)
    )
    verdict = "beats" if model_mean > base_mean else "does NOT beat"
    return (
        f"{target}: mean AUC {model_mean:.3f} over {len(results)} cut-offs {verdict} the best "
        f"simple baseline, {base_name} ({base_mean:.3f}); the model wins at {wins} of "
        f"{len(results)} cut-offs."
    )


def _latest(demo: Demo) -> tuple[dict[str, Snapshot], dict[str, str]]:
    """This morning's snapshots and the accounts' names."""
    with read_connection(demo.services.engine) as conn:
        day = snapshots.latest_day(conn)
        found = dict(snapshots.snapshots_on(conn, day=day)) if day else {}
        return found, dict(repository.account_names(conn))


def at_risk_account(demo: Demo) -> str:
    """The name of an account worth a /health: at risk but still using the product."""
    found, names = _latest(demo)
    if not found:
        return ""
    ranked = sorted(found.values(), key=_worth_a_look)
    return names.get(ranked[0].account_id, ranked[0].account_id)


def _worth_a_look(s: Snapshot) -> tuple[bool, bool, float, str]:
    """At risk first, then still active, then the likeliest to churn."""
    inactive = any(flag.split(":", 1)[0] == "inactive" for flag in s.flags)
    return (s.band != "at risk", inactive, -s.churn_risk, s.account_id)


def show_health(demo: Demo, out: Console, terminal: Terminal) -> str:
    """Answer /health for an at-risk account, as the prompt would; return its name."""
    name = at_risk_account(demo)
    if name:
        heading(out, f"/health {name}")
        print_card(out, terminal.answer(f"/health {name}"))
    return name


def expansion_account(demo: Demo) -> str:
    """The name of the account likeliest to expand (for the /forecast example)."""
    found, names = _latest(demo)
    if not found:
        return ""
    best = min(found.values(), key=lambda s: (-s.expansion_likelihood, s.account_id))
    return names.get(best.account_id, best.account_id)


def examples(demo: Demo) -> list[str]:
    """Commands worth trying on this book, with its own account names."""
    risky, growing = at_risk_account(demo), expansion_account(demo)
    found = [f"/health {risky}"] if risky else []
    if growing:
        found += [f"/value {growing} 30d", f"/forecast {growing}"]
    found += ["/steward risks", "/steward expansions", "/steward book"]
    if demo.services.llm is not None:
        found.append("/steward ask which accounts are at risk of running out of commit?")
    return found
