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


def match_account(query: str, names: Mapping[str, str]) -> Match:
    """Match ``query`` against account names (and ids) by id, name, prefix, then fuzzily.

    Args:
        query: what the user typed, e.g. "acme".
        names: every account's display name by id.
    """
    wanted = utils.default_process(query)
    if not wanted:
        return Match(query)
    if query.strip() in names:
        return _one(query, query.strip(), names)
    exact = [i for i, n in names.items() if utils.default_process(n) == wanted]
    if exact:
        return _one(query, exact[0], names) if len(exact) == 1 else _several(query, exact, names)
    prefixed = [i for i, n in names.items() if _starts_with(utils.default_process(n), wanted)]
    if len(prefixed) == 1:
        return _one(query, prefixed[0], names)
    if prefixed:
        return _several(query, sorted(prefixed, key=lambda i: (len(names[i]), names[i])), names)
    return _fuzzy(query, names)


def _starts_with(name: str, wanted: str) -> bool:
    """Whether the name, or one of its words, starts with what was typed."""
    return name.startswith(wanted) or any(w.startswith(wanted) for w in name.split())


def _fuzzy(query: str, names: Mapping[str, str]) -> Match:
    ranked = process.extract(
        query,
        names,
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        limit=MAX_CHOICES,
    )
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
