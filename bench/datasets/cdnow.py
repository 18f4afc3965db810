"""CDNOW: every purchase of 23,570 customers of an online music shop, 1997-01 to 1998-06.

The classic buy-till-you-die dataset (Fader, Hardie & Lee 2005), shipped inside
the ``lifetimes`` wheel as ``lifetimes/datasets/CDNOW_master.txt``: customer id,
day (YYYYMMDD), CDs bought, dollars spent. Sparse, non-contractual usage: most
customers buy a few times a year and nobody says when they leave.

Outcome: a customer active before the cut-off "churned" when they bought
nothing in the horizon after it, and "expanded" when they spent in the horizon
at least twice what they spent in the same length of time before the cut-off.
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson

from bench.datasets import Dataset, wheel

PACKAGE = "lifetimes==0.11.3"
MEMBER = "lifetimes/datasets/CDNOW_master.txt"
# Steward takes events from 2000 on: every day moves 26 x 52 weeks later (weekdays kept),
# so 1997-01-01 becomes 2022-12-07 and the default cut-off 1997-09-30 becomes 2023-09-05.
SHIFT = timedelta(weeks=26 * 52)


def purchases(cache: Path) -> list[tuple[str, date, int, float]]:
    """Every purchase: (customer, day, CDs, dollars), in file order."""
    with wheel(PACKAGE, cache) as archive:
        text = io.TextIOWrapper(archive.open(MEMBER), encoding="ascii")
        out = []
        for line in text:
            parts = line.split()
            if len(parts) != 4 or not parts[1].isdigit():
                continue
            customer, day, cds, dollars = parts
            stamp = datetime.strptime(day, "%Y%m%d").date() + SHIFT
            out.append((customer, stamp, int(cds), float(dollars)))
    return out


def build(
    cache: Path,
    *,
    cutoff: date = date(1997, 9, 30) + SHIFT,
    horizon_days: int = 91,
    sample_every: int = 1,
) -> Dataset:
    """The history up to ``cutoff`` as Steward files, and what each customer did after.

    ``sample_every`` keeps one customer in that many (by id), for a quicker run.
    """
    rows = [r for r in purchases(cache) if int(r[0]) % sample_every == 0]
    folder = cache / f"cdnow-{cutoff}-{sample_every}"
    folder.mkdir(parents=True, exist_ok=True)
    end = cutoff + timedelta(days=horizon_days)
    before_spend: dict[str, float] = defaultdict(float)
    after_spend: dict[str, float] = defaultdict(float)
    first: dict[str, date] = {}
    window_start = cutoff - timedelta(days=horizon_days)
    events = folder / "events.jsonl"
    with events.open("wb") as out:
        for n, (customer, day, cds, dollars) in enumerate(rows):
            first[customer] = min(first.get(customer, day), day)
            if day <= cutoff:
                if day > window_start:
                    before_spend[customer] += dollars
                record = {
                    "id": f"cdnow-{n}",
                    "account": f"c{customer}",
                    "timestamp": f"{day.isoformat()}T12:00:00Z",
                    "metric": "cds",
                    "quantity": cds,
                    "properties": {"dollars": dollars},
                }
                out.write(orjson.dumps(record) + b"\n")
            elif day <= end:
                after_spend[customer] += dollars
    accounts = folder / "accounts.jsonl"
    known = sorted(c for c, d in first.items() if d <= cutoff)
    with accounts.open("wb") as out:
        for customer in known:
            record = {
                "id": f"c{customer}",
                "name": f"Customer {customer}",
                "customer_since": first[customer].isoformat(),
            }
            out.write(orjson.dumps(record) + b"\n")
    return Dataset(
        name="cdnow",
        source=f"CDNOW purchases, from the {PACKAGE} wheel ({MEMBER})",
        events=events,
        accounts=accounts,
        cutoff=cutoff,
        horizon_days=horizon_days,
        churned={f"c{c}": after_spend.get(c, 0.0) <= 0 for c in known},
        expanded={
            f"c{c}": after_spend.get(c, 0.0) >= 2 * max(before_spend.get(c, 0.0), 1e-9)
            and before_spend.get(c, 0.0) > 0
            for c in known
        },
        outcome=(
            f"churned: no purchase in the {horizon_days} days after the cut-off; expanded: "
            f"spent at least twice as much in them as in the {horizon_days} days before"
        ),
    )
