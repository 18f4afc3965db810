"""Support tickets: routine ones for everyone, and the ones each shape's story brings.

Bad tickets (urgent, poor CSAT) come ahead of a warned churn, with an incident now and
then for anyone, and after a bill shock; expansion talk comes around a growth, and
onboarding questions after a slow starter signs.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from demo.book.catalog import Segment
from demo.book.shapes import Curve

_ROUTINE_SUBJECTS = (
    "Question about API rate limits",
    "How do I rotate our API keys?",
    "Add a user to our workspace",
    "SSO configuration help",
    "Usage report export",
    "Webhook retries not arriving",
    "Question about invoice line items",
    "Feature request: bulk export",
    "Latency higher than usual this morning",
    "Docs unclear for the streaming endpoint",
    "Change our billing contact",
    "Sandbox environment access",
)
_PAIN_SUBJECTS = (
    "Repeated timeouts in production",
    "Answer quality dropped after the last update",
    "Integration broken since the last release",
    "Escalation: outage affecting our customers",
    "Summaries are wrong for long documents",
    "Request for a contract review",
    "Bug still unresolved after three weeks",
    "Data export for our records",
    "How do we switch off auto-renewal?",
)
_INCIDENT_SUBJECTS = (
    "Outage: requests failing with 502",
    "Urgent: elevated error rates",
    "Degraded performance in our region",
)
_BILLING_SUBJECTS = (
    "Invoice much higher than expected",
    "Unexpected usage spike on our bill",
    "Can we set a spending cap?",
)
_EXPANSION_SUBJECTS = (
    "Onboarding a new team",
    "Adding seats for another department",
    "Pricing for a higher volume tier",
    "Enabling a new use case",
)
_ONBOARDING_SUBJECTS = (
    "Help getting started with the API",
    "Cannot authenticate with our API key",
    "Kickoff call follow-up",
    "Integration guide for our stack",
)

_HOURS_TO_SOLVE = {"urgent": (1, 30), "high": (4, 96), "normal": (8, 168), "low": (12, 336)}


def account_tickets(
    rng: random.Random,
    *,
    seed: int,
    account_id: str,
    tz: str,
    start: date,
    days: int,
    segment: Segment,
    shape: str,
    curve: Curve,
    warned: bool,
    warning_day: int | None,
    active_from: int,
    active_until: int,
) -> list[tuple[int, str, dict[str, Any]]]:
    """(opened at in Unix seconds, id, TicketIn payload) of the account's tickets, in order."""
    zone = ZoneInfo(tz)
    book_end = datetime.combine(start + timedelta(days=days), time(0), tzinfo=zone)
    span = max(1, active_until - active_from)
    wanted: list[tuple[int, str]] = []  # (day, kind)
    for _ in range(_poisson(rng, segment.tickets_per_year * span / 365)):
        wanted.append((rng.randrange(active_from, active_from + span), "routine"))
    c = curve.change
    if shape in ("declining", "dormant") and warned and warning_day is not None and c is not None:
        for _ in range(rng.randint(1, 4)):
            wanted.append((rng.randint(warning_day, min(days - 1, c + 10)), "pain"))
    elif rng.random() < 0.1:  # an incident: urgent tickets and poor scores, then it passes
        day = rng.randrange(active_from, active_from + span)
        for _ in range(rng.randint(2, 3)):
            wanted.append((min(days - 1, day + rng.randint(0, 2)), "incident"))
    wanted.extend(_story_tickets(rng, shape, curve, days))

    out: list[tuple[int, str, dict[str, Any]]] = []
    for number, (t, kind) in enumerate(sorted(wanted), start=1):
        opened = datetime.combine(
            start + timedelta(days=t),
            time(rng.randint(7, 19), rng.randrange(60), rng.randrange(60)),
            tzinfo=zone,
        )
        ticket = _ticket(
            rng, f"bk{seed}-{account_id}-t{number}", account_id, kind, opened, book_end
        )
        out.append((int(opened.timestamp()), ticket["id"], ticket))
    return out


def _story_tickets(
    rng: random.Random, shape: str, curve: Curve, days: int
) -> list[tuple[int, str]]:
    """(day, kind) of the tickets around a bill shock, an expansion or a slow start."""
    wanted: list[tuple[int, str]] = []
    c = curve.change
    if shape == "spiky" and c is not None and rng.random() < 0.6:
        wanted.append((min(days - 1, c + rng.randint(1, 5)), "billing"))
    expanding = shape in ("growing", "early_exhaust", "new_use_case")
    if expanding and c is not None and rng.random() < 0.4:
        wanted.append((min(days - 1, max(0, c + rng.randint(-14, 14))), "expansion"))
    if shape == "slow_start" and curve.sign is not None and curve.first_value is not None:
        for _ in range(rng.randint(1, 3)):
            wanted.append(
                (rng.randint(curve.sign, min(days - 1, curve.first_value + 14)), "onboarding")
            )
    return wanted


def _ticket(
    rng: random.Random,
    ticket_id: str,
    account_id: str,
    kind: str,
    opened: datetime,
    book_end: datetime,
) -> dict[str, Any]:
    """One ticket opened at ``opened``: solved (and maybe scored) if that happens in the book."""
    priority, subject, bad = _ticket_kind(rng, kind)
    lo, hi = _HOURS_TO_SOLVE[priority]
    took = timedelta(seconds=int(rng.uniform(lo, hi) * 3600))
    solved = (opened.astimezone(UTC) + took).astimezone(opened.tzinfo)
    ticket: dict[str, Any] = {
        "id": ticket_id,
        "account": account_id,
        "priority": priority,
        "subject": subject,
        "opened_at": opened.isoformat(),
    }
    if solved <= book_end:
        ticket["status"] = "closed" if book_end - solved > timedelta(days=7) else "solved"
        ticket["solved_at"] = solved.isoformat()
        if rng.random() < (0.8 if bad else 0.55):
            scores, weights = (
                ((1, 2, 3), (5, 4, 1)) if bad else ((1, 2, 3, 4, 5), (3, 5, 12, 35, 45))
            )
            ticket["csat"] = rng.choices(scores, weights=weights)[0]
    else:
        recent = book_end - opened < timedelta(days=1)
        ticket["status"] = "new" if recent else rng.choice(("open", "open", "pending", "hold"))
    return ticket


def _ticket_kind(rng: random.Random, kind: str) -> tuple[str, str, bool]:
    """(priority, subject, whether the customer is unhappy) for a kind of ticket."""
    if kind == "pain":
        return rng.choice(("high", "high", "urgent", "normal")), rng.choice(_PAIN_SUBJECTS), True
    if kind == "incident":
        return rng.choice(("high", "urgent")), rng.choice(_INCIDENT_SUBJECTS), True
    if kind == "billing":
        return "high", rng.choice(_BILLING_SUBJECTS), True
    if kind == "expansion":
        return rng.choice(("low", "normal")), rng.choice(_EXPANSION_SUBJECTS), False
    if kind == "onboarding":
        return rng.choice(("normal", "high")), rng.choice(_ONBOARDING_SUBJECTS), False
    priority = rng.choices(("low", "normal", "high", "urgent"), weights=(25, 55, 15, 5))[0]
    return priority, rng.choice(_ROUTINE_SUBJECTS), False


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
