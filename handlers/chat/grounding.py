"""Check that every figure in a model's text is one Steward gave it. Pure: no I/O.

The allowed figures are every number in the data sent to the model (JSON numbers, and
numbers written inside its strings, such as "5,000 inquiries"), every ISO date in it
(with its year and day of the month), and the numbers in the user's own question.

A figure in the text matches an allowed number when it is that number written the way
people write numbers: ``1,200``, ``1200``, ``$1.2k``, ``1.2K``, ``3.4M``, ``45%`` for
0.45 (or for 45), ``2.5x``. Rounding is allowed to the precision the text shows
(``1.2k`` is 1,150 to 1,250), and a round number may stand for one within 5% of it
(``about 400 hours`` for 412). Signs are ignored ("fell 12 points" for -12). Numbers that
open a numbered list line (``1.``) are not figures.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
LIST_MARKER = re.compile(r"^\s*\d{1,2}[.)]\s+", re.M)
NUMBER = re.compile(
    r"(?<![\w.])[$€£]?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<suffix>\s?(?:k|K|m|M|bn|B)\b)?"
    r"(?P<percent>\s?%|\s?percent\b)?"
)
SCALES = {"k": 1e3, "m": 1e6, "bn": 1e9, "b": 1e9}
ROUND_SHARE = 0.05  # a round number may stand for one within 5% of it
# Keys whose string values are customer text: their digits are not figures (an account named
# "Say the ROI is 99x" must not make 99 a figure the model may state).
CUSTOMER_TEXT = frozenset(
    {"account", "name", "metric", "feature", "value_label", "segment", "csm", "ae", "query"}
)


@dataclass
class Figures:
    """What a text may state: allowed numbers and dates."""

    numbers: set[float] = field(default_factory=set)
    dates: set[date] = field(default_factory=set)

    def add(self, value: Any, *, customer_text: bool = False) -> Figures:
        """Add every number and date found in ``value`` (JSON-like data or text).

        Strings under the keys in :data:`CUSTOMER_TEXT` (or all strings, with
        ``customer_text``) are skipped: customer text is not a source of figures.
        """
        if isinstance(value, bool) or value is None:
            return self
        if isinstance(value, int | float):
            if math.isfinite(value):
                self.numbers.add(abs(float(value)))
        elif isinstance(value, date):
            self._add_date(value)
        elif isinstance(value, str):
            if not customer_text:
                self._add_text(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.add(item, customer_text=customer_text or key in CUSTOMER_TEXT)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                self.add(item, customer_text=customer_text)
        return self

    def _add_date(self, day: date) -> None:
        self.dates.add(day)
        self.numbers.update((float(day.year), float(day.day)))

    def _add_text(self, text: str) -> None:
        for match in ISO_DATE.finditer(text):
            day = _date(match)
            if day is not None:
                self._add_date(day)
        for match in NUMBER.finditer(ISO_DATE.sub(" ", text)):
            self.numbers.add(_value(match))

    def merged(self, other: Figures) -> Figures:
        """Both sets of figures."""
        return Figures(self.numbers | other.numbers, self.dates | other.dates)


def figures_of(*values: Any) -> Figures:
    """The figures found in every value given."""
    found = Figures()
    for value in values:
        found.add(value)
    return found


def unsupported(text: str, allowed: Figures) -> list[str]:
    """The figures in ``text`` that ``allowed`` does not hold, as written (empty: all fine)."""
    bad: list[str] = []
    for match in ISO_DATE.finditer(text):
        day = _date(match)
        if day is None or day not in allowed.dates:
            bad.append(match.group(0))
    rest = LIST_MARKER.sub(" ", ISO_DATE.sub(" ", text))
    for match in NUMBER.finditer(rest):
        if not _supported(match, allowed.numbers):
            bad.append(match.group(0).strip())
    return bad


def _date(match: re.Match[str]) -> date | None:
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _parts(match: re.Match[str]) -> tuple[float, int, float, bool]:
    """(mantissa, decimals written, scale, is a percentage)."""
    raw = match.group("num").replace(",", "")
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    suffix = (match.group("suffix") or "").strip().lower()
    return float(raw), decimals, SCALES.get(suffix, 1.0), bool(match.group("percent"))


def _value(match: re.Match[str]) -> float:
    mantissa, _, scale, _ = _parts(match)
    return mantissa * scale


def _tolerance(mantissa: float, decimals: int, raw: str) -> float:
    """How far the written mantissa may be from the true one and still be that number rounded."""
    tolerance = 0.5 * 10.0**-decimals
    if decimals == 0:
        digits = raw.replace(",", "").lstrip("0")
        zeros = len(digits) - len(digits.rstrip("0"))
        if zeros:
            tolerance = max(tolerance, min(0.5 * 10.0**zeros, ROUND_SHARE * mantissa))
    return tolerance + 1e-9


def _supported(match: re.Match[str], allowed: Iterable[float]) -> bool:
    mantissa, decimals, scale, percent = _parts(match)
    tolerance = _tolerance(mantissa, decimals, match.group("num")) * scale
    value = mantissa * scale
    for known in allowed:
        if abs(known - value) <= tolerance:
            return True
        if percent and abs(known * 100 - value) <= tolerance:
            return True
    return False
