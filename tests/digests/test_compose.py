"""The daily digest composed from snapshots: what each section lists, and in what words."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.messages import ButtonValue, Card
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


def renewal(account_id: str, arr: float, days: int, churn: float, score: float) -> Snapshot:
    renews = date.fromordinal(DAY.toordinal() + days)
    return snap(
        account_id,
        score=score,
        band="at risk" if score < 40 else "watch",
        churn_risk=churn,
        flags={f"renewal_risk:{renews}": f"Renews on {renews} (in {days} days)."},
        detail={"stakes": {"arr": arr, "renewal": renews.isoformat()}},
    )


def test_each_section_leads_with_the_highest_expected_impact_and_caps_at_five() -> None:
    book = [
        renewal("river", 382_200, 8, 0.999, 16),  # expected loss 382k, renewing now
        renewal("small", 18_000, 29, 0.999, 19),  # certain to churn, but small
        renewal("big-later", 1_544_300, 80, 0.5, 30),  # 772k, but months away
        *(renewal(f"r{i}", 10_000 + i, 60, 0.6, 35) for i in range(6)),
    ]
    card = compose_digest(DAY, book, {"river": "River Energy GmbH"}, title="Digest")
    items = lines(card, "Renewals at risk")
    assert items[0].startswith("River Energy GmbH (16): Renews on 2026-12-12 (in 8 days).")
    assert "Next: call the sponsor today." in items[0]
    assert items[1].startswith("big-later")
    assert len(items) == 6  # five accounts and where the rest are
    assert items[-1] == "…and 4 more (9 in all) → /steward risks"
    assert " Next: " in items[1]  # each line has its own next step here
    (section,) = [s for s in card.sections if (s.title or "").startswith("Renewals at risk")]
    opened = [ButtonValue.decode(link.value).account_id for link in section.links if link]
    named = [line.split(" (")[0].replace("River Energy GmbH", "river") for line in items[:-1]]
    assert opened == named  # each line opens the account it is about
    assert section.link(5) is None  # "…and 4 more" opens nothing


def test_on_the_console_each_line_says_what_to_type() -> None:
    book = [renewal(f"r{i}", 10_000 + i, 60, 0.6, 35) for i in range(2)]
    card = compose_digest(DAY, book, {"r0": "Acme"}, title="Digest", platform="console")
    items = lines(card, "Renewals at risk")
    assert sorted(line.rsplit(" → ", 1)[1] for line in items) == ["/health Acme", "/health r1"]
    assert all(line.startswith(("Acme (", "r1 (")) for line in items)


def test_a_next_step_shared_by_every_line_is_said_once() -> None:
    """Five lines ending in the same "Next: book a renewal call..." are a wall of text."""
    book = [renewal(f"r{i}", 10_000 + i, 60, 0.6, 35) for i in range(6)]
    card = compose_digest(DAY, book, {}, title="Digest")
    (section,) = [s for s in card.sections if (s.title or "").startswith("Renewals at risk")]
    assert section.text.startswith("Next, for each: ")
    assert all(" Next: " not in line for line in section.items)


def test_on_teams_the_lines_name_the_teams_commands() -> None:
    book = [renewal(f"r{i}", 10_000, 30, 0.7, 30) for i in range(7)]
    card = compose_digest(DAY, book, {}, title="Digest", platform="teams")
    items = lines(card, "Renewals at risk")
    assert items[-1] == "…and 2 more (7 in all) → @Steward risks"
    assert "/health" not in " ".join(items)  # no Slack command on Teams
    assert "/steward" not in everything(card)
    assert card.footer is not None
    assert "@Steward health <account>" in card.footer


def test_a_renewal_is_listed_once_not_again_under_needs_attention() -> None:
    card = compose_digest(DAY, [renewal("river", 382_200, 8, 0.999, 16)], {}, title="Digest")
    assert not any(t.startswith("Needs attention") for t in titles(card))
    assert ">99%" not in everything(card) or "100%" not in everything(card)


def test_wins_read_as_a_sentence() -> None:
    cleared = [
        {"title": "Usage recovered", "resolved": True},
        {"title": "Bill-shock risk cleared", "resolved": True},
    ]
    card = compose_digest(
        DAY, [snap("apex", detail={"alerts": cleared})], {"apex": "Apex"}, title="Digest"
    )
    [line] = lines(card, "Wins")
    assert line.startswith("Apex (80): Usage recovered and bill-shock risk cleared.")


def test_wins_scored_before_cleared_titles_still_read_as_a_sentence() -> None:
    legacy = {"title": "Resolved: Bill-shock risk", "resolved": True}
    card = compose_digest(
        DAY, [snap("apex", detail={"alerts": [legacy]})], {"apex": "Apex"}, title="Digest"
    )
    [line] = lines(card, "Wins")
    assert line.startswith("Apex (80): Bill-shock risk cleared.")
    assert "Resolved" not in line
