"""One grammar for the sentences Steward writes about an account.

Every reason, driver and change is phrased here, so each kind of input (a figure
rising, falling, at zero or missing) reads correctly wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

RISK_CEILING = 0.995  # a probability shown as 100% would claim certainty


def percent(p: float) -> str:
    """A probability in words a person trusts: never "100%" nor "0%" from a model."""
    if p >= RISK_CEILING:
        return ">99%"
    if 0 < p < 0.005:
        return "<1%"
    return f"{p:.0%}"


def days_ago(days: int) -> str:
    """0 -> "today", 1 -> "yesterday", n -> "n days ago"."""
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


def in_days(days: int) -> str:
    """0 -> "today", 1 -> "tomorrow", n -> "in n days"."""
    if days <= 0:
        return "today"
    return "tomorrow" if days == 1 else f"in {days} days"


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 day", "2 days" ("1 person", "2 people" with ``many``)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def listing(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def sentence(text: str) -> str:
    """Capitalised, ending with one full stop (or the ? or ! it has)."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!" else text + "."


def points_move(label: str, points: float) -> str:
    """What one component did to the health score: "Usage trend cost 14.7 points".

    Said in points of the score, not the component's own 0-100 level: "Steadiness
    rose from 7 to 100" reads as good news about an account whose usage stopped.
    """
    if abs(points) < 0.05:
        return f"{label} left the score as it was"
    verb = "added" if points > 0 else "cost"
    return f"{label} {verb} {abs(points):.1f} point{'s' if abs(points) != 1 else ''}"


def counts_now(label: str) -> str:
    """A component that starts to count, or stops."""
    return f"{label} now counts toward the score"


def score_change(change: float, mover: str) -> str:
    """The week's change and its main cause: "-24 since last week: usage trend cost 14.7 points"."""
    return f"{change:+.0f} since last week: {mover[:1].lower()}{mover[1:]}"


def driver_reason(risk: str, driver: str) -> str:
    """One driver of a risk: "Raises churn risk: usage is falling"."""
    return f"Raises {risk}: {driver}"


def last_seen(days: int | None, *, on: date, as_of: date, what: str = "meaningful usage") -> str:
    """When something last happened, counted back from the day scored, with its date.

    Never "today": ``steward score`` scores the last day with data, which may be a
    week back, so the day scored is named by its date.
    """
    if days is None:
        return f"No {what} yet"
    if days <= 0:
        return f"{what[:1].upper()}{what[1:]} on {as_of}, the day scored"
    return f"Last {what} {days_ago(days)} ({on})"
