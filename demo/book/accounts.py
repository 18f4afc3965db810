"""One account of the book: its record, contract, truth, event plan and tickets.

Each is drawn from random streams seeded by the book's seed and the account's index, so
one account's draws never change another's.
"""

from __future__ import annotations

import math
import random
from array import array
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeAlias

from demo.book.catalog import DEFAULT_PRICE, LIST_PRICES, TERM_DAYS, TIMEZONES, Segment
from demo.book.model import Plan
from demo.book.names import AES, CSMS, domain, slug
from demo.book.people import People, User, draw_people
from demo.book.shapes import Curve, draw_curve
from demo.book.tickets import account_tickets
from demo.book.truth import Truth, commit_outcome, level_outcomes
from demo.book.usage import daily_totals, draw_rhythm

Totals: TypeAlias = "dict[int, array[int]]"  # metric index -> quantity per local day


@dataclass(slots=True)
class Built:
    """One account's payloads (its tickets as (opened at, id, payload)), truth and plan."""

    account: dict[str, Any]
    contract: dict[str, Any]
    tickets: list[tuple[int, str, dict[str, Any]]]
    truth: Truth
    plan: Plan


@dataclass(frozen=True, slots=True)
class _Pricing:
    """The account's spend, the metrics it uses (the book's primary, 0, first) and its prices."""

    baseline: float  # actual spend on a level-1 day
    used: list[int]
    prices: list[float]  # per metric of the book, after the account's discount
    base_q: dict[int, float]  # metric index -> quantity on a level-1 day


@dataclass(frozen=True, slots=True)
class _Terms:
    """The commit contract, sized on the spend the customer planned for at signing."""

    committed: float
    budget: float  # per month
    term_start: int  # days after the book's start
    first: date
    last: date
    customer_since: date
    go_live: date


def build_account(
    *,
    seed: int,
    index: int,
    name: str,
    shape: str,
    segment: Segment,
    start: date,
    days: int,
    metrics: tuple[str, ...],
    holiday: list[float],
) -> Built:
    """Draw one account; the order of the draws is what keeps a seed's book the same."""
    rng = random.Random(f"steward-book:{seed}:account:{index}")
    account_id = slug(name)
    tz = rng.choices([z for z, _ in TIMEZONES], weights=[w for _, w in TIMEZONES])[0]
    curve = draw_curve(shape, rng, start, days)
    pricing = _pricing(rng, segment, metrics)
    rhythm = draw_rhythm(rng)
    terms = _terms(rng, shape, curve, pricing.baseline, start, days)
    totals, spike_q = daily_totals(
        random.Random(f"steward-book:{seed}:totals:{index}"),
        curve=curve,
        base_q=pricing.base_q,
        spike_unit=pricing.baseline / pricing.prices[0],
        rhythm=rhythm,
        holiday=holiday,
        sigma=segment.noise,
        dow0=start.weekday(),
    )
    churn_day, expand_day = level_outcomes(curve)
    people = draw_people(
        rng, shape=shape, curve=curve, segment=segment, used=pricing.used, days=days
    )
    spike_user = rng.choice(people.core_users) if curve.spikes else None
    churned_date = _marked_churned(rng, shape, churn_day, start, days)
    truth = _truth(
        account_id=account_id,
        shape=shape,
        segment=segment,
        baseline=pricing.baseline,
        curve=curve,
        people=people,
        outcomes=(churn_day, expand_day),
        commit=commit_outcome(_spend(totals, pricing, days), terms.term_start, terms.committed),
        start=start,
    )
    account = _account(rng, account_id, name, segment, tz, terms, churned_date)
    plan = _plan(
        rng,
        index=index,
        account_id=account_id,
        tz=tz,
        used=pricing.used,
        usage=(totals, spike_q),
        new_share=_new_share(curve) if shape == "new_use_case" else None,
        people=people,
        spike_user=spike_user,
        always_on=rhythm.always_on,
    )
    contract = _contract(seed, account_id, terms, metrics, pricing.prices)
    tickets = _tickets(seed, index, account_id, tz, start, days, segment, shape, curve, people)
    return Built(account=account, contract=contract, tickets=tickets, truth=truth, plan=plan)


def _truth(
    *,
    account_id: str,
    shape: str,
    segment: Segment,
    baseline: float,
    curve: Curve,
    people: People,
    outcomes: tuple[int | None, int | None],
    commit: tuple[int | None, float],
    start: date,
) -> Truth:
    """What happens: ``outcomes`` is (churn, expand day), ``commit`` (exhaust day, pace)."""
    (churn_day, expand_day), (exhaust_day, pace) = outcomes, commit
    return Truth(
        account=account_id,
        shape=shape,
        segment=segment.name,
        baseline_daily_spend=round(baseline, 2),
        change_day=curve.change,
        change_date=_date(start, curve.change),
        warning_date=_date(start, people.warning_day),
        churns=churn_day is not None,
        churn_date=_date(start, churn_day),
        expands=expand_day is not None,
        expand_date=_date(start, expand_day),
        exhaust_date=_date(start, exhaust_day),
        bill_shock_date=_date(start, min(curve.spikes)) if curve.spikes else None,
        first_value_date=_date(start, curve.first_value),
        commit_pace=round(pace, 4),
    )


def _plan(
    rng: random.Random,
    *,
    index: int,
    account_id: str,
    tz: str,
    used: list[int],
    usage: tuple[Totals, dict[int, int]],
    new_share: list[float] | None,
    people: People,
    spike_user: User | None,
    always_on: bool,
) -> Plan:
    """The plan its events are streamed from; ``usage`` is (totals, the runaway job's part)."""
    totals, spike_q = usage
    return Plan(
        index=index,
        id=account_id,
        tz=tz,
        metrics=tuple(used),
        totals=totals,
        spike_q=spike_q,
        new_share=new_share,
        users=people.users,
        spike_user=spike_user,
        new_feature=people.new_feature,
        core_feature=people.core_feature,
        narrow_day=people.narrow_day,
        success_rate=rng.uniform(0.78, 0.94),
        success_drop=people.success_drop,
        success_drop_day=people.success_drop_day,
        active_rate=rng.uniform(0.4, 0.65),
        weekend_users=rng.uniform(0.5, 0.8) if always_on else rng.uniform(0.12, 0.3),
    )


def _pricing(rng: random.Random, segment: Segment, metrics: tuple[str, ...]) -> _Pricing:
    """The spend, the metrics used, their discounted prices, and the spend each takes."""
    lo, hi = segment.daily_spend
    baseline = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    used = [0] + [
        i for i in range(1, len(metrics)) if rng.random() < (0.7, 0.45, 0.35)[min(i - 1, 2)]
    ]
    discount = rng.uniform(*segment.discount)
    prices = [float(f"{LIST_PRICES.get(m, DEFAULT_PRICE) * (1.0 - discount):.4g}") for m in metrics]
    share_w = [rng.uniform(1.0, 2.0) if i == 0 else rng.uniform(0.3, 1.0) for i in used]
    base_q = {
        i: baseline * w / sum(share_w) / prices[i] for i, w in zip(used, share_w, strict=True)
    }
    return _Pricing(baseline=baseline, used=used, prices=prices, base_q=base_q)


def _terms(
    rng: random.Random, shape: str, curve: Curve, baseline: float, start: date, days: int
) -> _Terms:
    """A one-year commit sized on the usage the customer expected, and a budget near it.

    Most commits are sized on what the account goes on to use (on pace, within ±10%);
    growing accounts and new use cases a little under it (a few run out early);
    early exhausters far under it; under-users planned for far more; declining and
    dormant accounts were sized on the usage they had before it fell. Terms of
    established customers start anywhere in the first ten months of the book, so
    renewals spread over the year ahead. The monthly budget sits a little above the
    usual month at the end of the book (seasonal accounts leave room for the season).
    """
    if curve.sign is not None:
        term_start = curve.sign
        customer_since = start + timedelta(days=curve.sign)
        go_live = customer_since + timedelta(days=rng.randint(14, 30))
    else:
        late = 0.15 if shape in ("early_exhaust", "dormant", "declining") else 0.8
        term_start = rng.randint(0, max(0, min(days - 60, int(days * late))))
        customer_since = start - timedelta(days=rng.randint(60, 1500))
        go_live = customer_since + timedelta(days=rng.randint(10, 60))
    expected = baseline * TERM_DAYS * _term_level(curve, term_start, days)
    if shape == "under_use":
        committed = baseline * TERM_DAYS / rng.uniform(0.2, 0.45)
    elif shape in ("early_exhaust", "declining", "dormant"):  # sized on the level before
        committed = baseline * TERM_DAYS * rng.uniform(0.95, 1.1)
    elif shape in ("growing", "new_use_case"):
        committed = expected / rng.uniform(1.0, 1.3)  # grew past the plan: a few over
    else:
        committed = expected / rng.uniform(0.9, 1.08)
    committed = max(1000.0, round(committed, -2))
    season_room = 1.45 if shape == "seasonal" else 1.0
    usual = baseline * 30.44 * _recent_level(curve, days)
    budget = max(100.0, round(usual * rng.uniform(1.2, 1.4) * season_room, -1))
    first = start + timedelta(days=term_start)
    return _Terms(
        committed=committed,
        budget=budget,
        term_start=term_start,
        first=first,
        last=first + timedelta(days=TERM_DAYS - 1),
        customer_since=customer_since,
        go_live=go_live,
    )


def _term_level(curve: Curve, term_start: int, days: int) -> float:
    """The mean usage level over the term (its last known level beyond the book)."""
    level = [a + b for a, b in zip(curve.level, curve.extra, strict=True)]
    inside = level[term_start : min(days, term_start + TERM_DAYS)]
    beyond = TERM_DAYS - len(inside)
    total = sum(inside) + beyond * (inside[-1] if inside else 1.0)
    return max(0.05, total / TERM_DAYS)


def _recent_level(curve: Curve, days: int) -> float:
    """The mean usage level of the book's last 90 days while in use (1.0 without use)."""
    level = [a + b for a, b in zip(curve.level, curve.extra, strict=True)][-90:]
    used = [x for x in level if x > 0]
    return max(1.0, sum(used) / len(used)) if used else 1.0


def _spend(totals: Totals, pricing: _Pricing, days: int) -> list[float]:
    """The account's spend per local day."""
    prices = pricing.prices
    return [sum(totals[i][t] * prices[i] for i in pricing.used) for t in range(days)]


def _new_share(curve: Curve) -> list[float]:
    """Per day, the share of volume from the new use case."""
    return [
        e / (lv + e) if lv + e > 0 else 0.0 for lv, e in zip(curve.level, curve.extra, strict=True)
    ]


def _marked_churned(
    rng: random.Random, shape: str, churn_day: int | None, start: date, days: int
) -> date | None:
    """When a dormant account is marked churned: weeks after its usage stopped."""
    if shape != "dormant" or churn_day is None:
        return None
    marked = churn_day + rng.randint(20, 60)
    return _date(start, marked) if marked < days else None


def _date(start: date, t: int | None) -> date | None:
    return None if t is None else start + timedelta(days=t)


def _account(
    rng: random.Random,
    account_id: str,
    name: str,
    segment: Segment,
    tz: str,
    terms: _Terms,
    churned_date: date | None,
) -> dict[str, Any]:
    """The AccountIn payload."""
    account: dict[str, Any] = {
        "id": account_id,
        "name": name,
        "domain": domain(name, account_id),
        "segment": segment.name,
        "arr": terms.committed,
        "csm": rng.choice(CSMS),
        "ae": rng.choice(AES),
        "timezone": tz,
        "customer_since": terms.customer_since.isoformat(),
        "go_live_date": terms.go_live.isoformat(),
        "renewal_date": (terms.last + timedelta(days=1)).isoformat(),
    }
    if churned_date is not None:
        account["churned_date"] = churned_date.isoformat()
    return account


def _contract(
    seed: int, account_id: str, terms: _Terms, metrics: tuple[str, ...], prices: list[float]
) -> dict[str, Any]:
    """The ContractIn payload: the commit."""
    return {
        "id": f"bk{seed}-{account_id}-c1",
        "account": account_id,
        "kind": "commit",
        "start_date": terms.first.isoformat(),
        "end_date": terms.last.isoformat(),
        "committed_amount": terms.committed,
        "currency": "USD",
        "unit_prices": dict(zip(metrics, prices, strict=True)),
        "monthly_budget": terms.budget,
    }


def _tickets(
    seed: int,
    index: int,
    account_id: str,
    tz: str,
    start: date,
    days: int,
    segment: Segment,
    shape: str,
    curve: Curve,
    people: People,
) -> list[tuple[int, str, dict[str, Any]]]:
    """The account's tickets, from their own stream, while it is a customer using the product."""
    c = curve.change
    return account_tickets(
        random.Random(f"steward-book:{seed}:tickets:{index}"),
        seed=seed,
        account_id=account_id,
        tz=tz,
        start=start,
        days=days,
        segment=segment,
        shape=shape,
        curve=curve,
        warned=people.warned,
        warning_day=people.warning_day,
        active_from=0 if curve.sign is None else curve.sign,
        active_until=days if shape != "dormant" or c is None else min(days, c + 30),
    )
