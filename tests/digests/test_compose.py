"""The daily digest composed from snapshots: what each section lists, and in what words."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.messages import Card
from digests.compose import compose_digest
from signals.model import Snapshot

DAY = date(2026, 12, 4)


def snap(account_id: str, *, score: float = 80.0, band: str = "healthy", **kw: Any) -> Snapshot:
    flags: dict[str, str] = kw.pop("flags", {})
    detail: dict[str, Any] = {"flags": flags, **kw.pop("detail", {})}
    return Snapshot(
        account_id=account_id,
        day=DAY,
        score=score,
        band=band,
        churn_risk=kw.pop("churn_risk", 0.05),
        expansion_likelihood=kw.pop("expansion_likelihood", 0.1),
        tier="scaled",
        tier_since=date(2026, 1, 1),
        flags=tuple(sorted(flags)),
        reasons=kw.pop("reasons", ()),
        detail=detail,
        **kw,
    )


def titles(card: Card) -> list[str]:
    return [s.title or "" for s in card.sections]


def lines(card: Card, title: str) -> list[str]:
    found = [s for s in card.sections if (s.title or "").startswith(title)]
    assert len(found) == 1, titles(card)
    return list(found[0].items)


def everything(card: Card) -> str:
    return "\n".join(
        "\n".join((s.title or "", s.text or "", *s.items, *(f.value for f in s.facts)))
        for s in card.sections
    )


OVERAGE = (
    "In overage: 290% of the $11,700 commit used with 99% of the term gone "
    "(2025-12-09 to 2026-12-08); $22,230 past the commit since 2026-05-01. "
    "An expansion conversation for the AE."
)
UNDER = (
    "Under-use risk: 20% of the $50,000 commit used with 60% of the term gone "
    "(2026-04-01 to 2027-03-31). At $40/day only 35% of it is used by term end."
)


def test_a_commit_in_overage_is_an_expansion_never_a_problem() -> None:
    card = compose_digest(
        DAY,
        [
            snap("falcon", flags={"commit_overage": OVERAGE}),
            snap("slow", score=62, band="watch", flags={"commit_under_use": UNDER}),
        ],
        {"falcon": "Falcon Energy", "slow": "Slow Co"},
        title="Morning digest",
    )
    expand = lines(card, "Commits to expand")
    assert len(expand) == 1
    assert expand[0].startswith("Falcon Energy")
    assert "In overage" in expand[0]
    under = lines(card, "Commits under-used")
    assert len(under) == 1
    assert under[0].startswith("Slow Co")
    for problem in ("Needs attention", "Renewals at risk", "Commits under-used"):
        for title in titles(card):
            if title.startswith(problem):
                assert "Falcon Energy" not in " ".join(lines(card, problem))
    assert "off pace" not in everything(card)
