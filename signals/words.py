"""One grammar for the sentences Steward writes about an account.

Every reason, driver and change is phrased here, so each kind of input (a figure
rising, falling, at zero or missing) reads correctly wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence

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
