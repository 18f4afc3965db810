"""Find the account a user means from what they typed: `acme` finds "Acme Corp"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

MAX_CHOICES = 5
SURE = 90.0  # a fuzzy score at or above this, well ahead of the next, is the account
CLOSE = 70.0  # at or above this, a name is offered as a choice
CLEAR_LEAD = 8.0
CLEAR_GAP = 20.0  # a lone close name this far ahead of the rest is the account


@dataclass(frozen=True, slots=True)
class Match:
    """What a name matched: one account, several to choose from, or none (with suggestions).

    ``account_id`` is set only when the match is certain; ``choices`` are (id, name)
    pairs, best first: the candidates when ambiguous, the closest names when unknown.
    """

    query: str
    account_id: str | None = None
    name: str | None = None
    choices: tuple[tuple[str, str], ...] = ()
    total: int = 0  # how many accounts matched when ambiguous (choices shows the first few)

    @property
    def found(self) -> bool:
        """Whether exactly one account was meant."""
        return self.account_id is not None


@dataclass(frozen=True, slots=True)
class NameIndex:
    """Account names by id, with the normalised form matching compares (built once, reused)."""

    names: Mapping[str, str]
    processed: Mapping[str, str]
    cores: Mapping[str, str]  # without legal suffixes: what typos are compared on

    @classmethod
    def of(cls, names: Mapping[str, str]) -> NameIndex:
        """Index these names."""
        processed = {i: utils.default_process(n) for i, n in names.items()}
        return cls(names, processed, {i: core(n) for i, n in processed.items()})


LEGAL_SUFFIXES = frozenset(
    {"inc", "incorporated", "corp", "corporation", "co", "company", "llc", "ltd", "limited"}
    | {"gmbh", "ag", "sa", "sas", "bv", "plc"}
)


def core(processed: str) -> str:
    """A normalised name without its legal suffixes: "acme corp inc" -> "acme"."""
    words = processed.split()
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def match_account(query: str, names: Mapping[str, str] | NameIndex) -> Match:
    """Match ``query`` against account names (and ids) by id, name, prefix, then fuzzily.

    Args:
        query: what the user typed, e.g. "acme".
        names: every account's display name by id, or a NameIndex of them.
    """
    index = names if isinstance(names, NameIndex) else NameIndex.of(names)
    wanted = utils.default_process(query)
    if not wanted:
        return Match(query)
    if query.strip() in index.names:
        return _one(query, query.strip(), index.names)
    exact = [i for i, n in index.processed.items() if n == wanted]
    if exact:
        return (
            _one(query, exact[0], index.names)
            if len(exact) == 1
            else _several(query, exact, index.names)
        )
    prefixed = [i for i, n in index.processed.items() if _starts_with(n, wanted)]
    if len(prefixed) == 1:
        return _one(query, prefixed[0], index.names)
    if prefixed:
        order = sorted(prefixed, key=lambda i: (len(index.names[i]), index.names[i]))
        return _several(query, order, index.names)
    return _fuzzy(query, wanted, index)


def _starts_with(name: str, wanted: str) -> bool:
    """Whether the name, or one of its words, starts with what was typed."""
    return name.startswith(wanted) or any(w.startswith(wanted) for w in name.split())


def _fuzzy(query: str, wanted: str, index: NameIndex) -> Match:
    names = index.names
    ranked = process.extract(core(wanted), index.cores, scorer=fuzz.WRatio, limit=MAX_CHOICES)
    if not ranked:
        return Match(query)
    best_score = ranked[0][1]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best_score >= SURE and best_score - runner_up >= CLEAR_LEAD:
        return _one(query, ranked[0][2], names)
    close = [key for _, score, key in ranked if score >= CLOSE]
    if len(close) == 1 and best_score - runner_up >= CLEAR_GAP:
        return _one(query, close[0], names)  # one near miss, far ahead: a typo
    if close:
        return _several(query, close, names)
    return Match(query, choices=tuple((key, names[key]) for _, _, key in ranked[:3]))


def _one(query: str, account_id: str, names: Mapping[str, str]) -> Match:
    return Match(query, account_id=account_id, name=names[account_id])


def _several(query: str, ids: list[str], names: Mapping[str, str]) -> Match:
    return Match(query, choices=tuple((i, names[i]) for i in ids[:MAX_CHOICES]), total=len(ids))
