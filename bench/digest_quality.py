"""What a CSM reads from the demo book, measured against the truth the generator knows.

Run from the repository root:

    .venv/bin/python bench/digest_quality.py [--accounts 200] [--seed 7] [--days 42]

It builds the demo (as `steward demo --no-input` does) in a temporary directory,
then scores each of the last --days days in order, as the daily job would, and reads
the alerts each day opened (the first day is the baseline: not counted). It prints:

  - lines per section of this morning's manager digest and of the featured CSM's
    digest (account lines, "…and N more" not counted; the cap is 5);
  - alerts opened per 100 accounts per week, by kind;
  - precision: the share of those alerts that match a real problem or opportunity in
    the generator's truth (see ``REAL`` below);
  - recall: of the real events dated in the window (churn, bill shock, a commit used
    up, expansion) whose matching alert could fire, the share alerted on the account
    between 30 days before and 7 days after the event.

The aim (issue 17): precision >= 0.8 at recall >= 0.7, no section over 5 lines.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/digests.py shadows

from bot.cli.demo import DEFAULT_ACCOUNTS, DEFAULT_SEED, Options, run
from core.messages import Card
from core.settings import load_settings
from demo.book.truth import Truth
from digests.compose import PER_SECTION, compose_digest
from digests.manager import manager_digest
from services.scoring import score_day
from storage import repository, snapshots
from storage.db import read_connection

EARLY, LATE = 30, 7  # an alert counts for an event from 30 days before to 7 days after
HORIZON = 90  # a churn within this many days of an alert makes the alert right

CHURN_KINDS = frozenset({"health_drop", "usage_drop", "inactive", "renewal_risk"})
EXPANSION_KINDS = frozenset({"commit_early", "commit_overage", "new_use_case"})
COMMIT_KINDS = frozenset({"commit_early", "commit_overage"})
NEWS = frozenset({"tier_change"})  # announcements, not claims about a problem


def _churn_problem(t: Truth, day: date) -> bool:
    """It churns within the horizon (or has), or its usage is falling toward it."""
    if t.churn_date is not None and t.churn_date <= day + timedelta(days=HORIZON):
        return True
    falling = t.shape in ("declining", "dormant") and t.change_date is not None
    return falling and t.change_date is not None and t.change_date <= day + timedelta(days=30)


def _under_use(t: Truth, day: date) -> bool:
    return t.commit_pace < 0.75 or t.shape == "under_use"


REAL: dict[str, Callable[[Truth, date], bool]] = {
    # kind: is the alert on this day right, by the truth?
    "health_drop": lambda t, d: _churn_problem(t, d) or _bill_spike(t, d),
    "usage_drop": _churn_problem,
    "inactive": _churn_problem,
    "renewal_risk": lambda t, d: _churn_problem(t, d) or _under_use(t, d),
    "commit_under_use": _under_use,
    "bill_shock": lambda t, d: _bill_spike(t, d),
    "commit_early": lambda t, d: t.commit_pace > 1.05 or t.exhaust_date is not None,
    "commit_overage": lambda t, d: t.exhaust_date is not None and t.exhaust_date <= d,
    "new_use_case": lambda t, d: t.shape == "new_use_case" or t.expands,
    "ttv_missed": lambda t, d: t.shape == "slow_start",
}


def _bill_spike(t: Truth, day: date) -> bool:
    return t.bill_shock_date is not None and abs((day - t.bill_shock_date).days) <= 31


@dataclass(frozen=True, slots=True)
class Opened:
    account: str
    kind: str
    day: date


def events(t: Truth) -> list[tuple[str, date, frozenset[str]]]:
    """The truth's dated events, each with the alert kinds that announce it."""
    out = []
    if t.churn_date is not None:
        out.append(("churn", t.churn_date, CHURN_KINDS))
    if t.bill_shock_date is not None:
        out.append(("bill shock", t.bill_shock_date, frozenset({"bill_shock"})))
    if t.exhaust_date is not None:
        out.append(
            ("commit used up", t.exhaust_date, frozenset({"commit_early", "commit_overage"}))
        )
    if t.expand_date is not None:
        out.append(("expansion", t.expand_date, EXPANSION_KINDS))
    return out


def section_lines(card: Card) -> dict[str, int]:
    """Account lines per titled section (not the "…and N more" line, not the method): a
    line that opens its account (Slack, Teams) or ends with the command (the terminal)."""
    counted = {
        (s.title or "").rsplit(" (", 1)[0]: sum(
            1 for i, item in enumerate(s.items) if s.link(i) is not None or _account_line(item)
        )
        for s in card.sections
        if s.title and s.items
    }
    return {title: n for title, n in counted.items() if n}


def _account_line(item: str) -> bool:
    return "→" in item and "more (" not in item


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--verbose", action="store_true", help="list every alert, right or not")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        options = Options(
            database=directory / "steward-demo.db",
            charts=directory / "charts",
            seed=args.seed,
            accounts=args.accounts,
        )
        demo, _ = run(
            load_settings(),
            options,
            out=Console(file=io.StringIO(), width=100),
            err=Console(file=io.StringIO()),
        )
        engine = demo.services.engine
        config = demo.services.settings.scoring_config()
        truth = demo.spec.generate().truth
        end = demo.spec.end
        with read_connection(engine) as conn:
            today = snapshots.snapshots_on(conn, day=end)
            names = repository.account_names(conn)
        manager = manager_digest(engine, day=end, config=config)
        book = [s for s in today.values() if s.account_id in _owned(demo, truth)]
        csm = compose_digest(end, book, names, title="CSM digest")

        first = end - timedelta(days=args.days)
        opened: list[Opened] = []
        now = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        for i in range(args.days + 1):
            day = first + timedelta(days=i)
            ran = score_day(engine, as_of=day, config=config, now=now)
            if i == 0:
                continue  # the baseline: every flag in force is "new"
            opened += [
                Opened(a.account_id, a.kind, day)
                for a in ran.alerts
                if not a.resolved and a.kind not in NEWS
            ]
        engine.dispose()
    report(args, manager, csm, opened, truth, first, end, time.perf_counter() - started)


def _owned(demo: object, truth: dict[str, Truth]) -> set[str]:
    """The featured CSM's accounts (the demo's "book of" digest)."""
    engine = demo.services.engine  # type: ignore[attr-defined]
    csm = demo.csm  # type: ignore[attr-defined]
    with read_connection(engine) as conn:
        routing = repository.account_routing(conn)
    return {a for a, r in routing.items() if getattr(r, "csm", None) == csm}


def report(
    args: argparse.Namespace,
    manager: Card,
    csm: Card,
    opened: list[Opened],
    truth: dict[str, Truth],
    first: date,
    end: date,
    seconds: float,
) -> None:
    print(
        f"Demo book: seed {args.seed}, {args.accounts} accounts, alerts scanned daily over "
        f"{first + timedelta(days=1)} to {end} ({args.days} days); {seconds:.0f} s"
    )
    for title, card in (("manager digest", manager), ("CSM digest", csm)):
        lines = section_lines(card)
        over = [s for s, n in lines.items() if n > PER_SECTION]
        shown = ", ".join(f"{s} {n}" for s, n in lines.items())
        print(f"Lines per section, {title}: {shown}; over {PER_SECTION}: {len(over)}")
    weeks = args.days / 7
    per = len(opened) / args.accounts * 100 / weeks
    kinds = Counter(o.kind for o in opened)
    print(f"Alerts opened: {len(opened)}, {per:.1f} per 100 accounts per week")
    right = Counter(o.kind for o in opened if REAL.get(o.kind, _never)(truth[o.account], o.day))
    for kind, n in kinds.most_common():
        print(
            f"  {kind:<17} {n:>4} ({n / args.accounts * 100 / weeks:5.1f}/100/wk) "
            f"right {right[kind]}"
        )
    if args.verbose:
        for o in opened:
            t = truth[o.account]
            ok = REAL.get(o.kind, _never)(t, o.day)
            print(
                f"    {'ok ' if ok else 'BAD'} {o.day} {o.kind:<16} {o.account:<24} {t.shape:<13} "
                f"pace {t.commit_pace:.2f} churn {t.churn_date} change {t.change_date} "
                f"exhaust {t.exhaust_date} shock {t.bill_shock_date}"
            )
    precision = sum(right.values()) / len(opened) if opened else 0.0
    print(
        f"Precision: {sum(right.values())} of {len(opened)} alerts match the truth "
        f"= {precision:.2f}"
    )
    found = total = 0
    missed: Counter[str] = Counter()
    for account, t in truth.items():
        for what, day, kinds_ in events(t):
            if not first + timedelta(days=LATE) <= day <= end - timedelta(days=LATE):
                continue
            total += 1
            hit = any(
                o.account == account
                and o.kind in kinds_
                and day - timedelta(days=EARLY) <= o.day <= day + timedelta(days=LATE)
                for o in opened
            )
            found += hit
            if not hit:
                missed[what] += 1
    recall = found / total if total else 0.0
    print(
        f"Recall: {found} of {total} real events alerted from {EARLY} days before to "
        f"{LATE} after = {recall:.2f}" + (f" (missed: {dict(missed)})" if missed else "")
    )


def _never(t: Truth, d: date) -> bool:
    return False


if __name__ == "__main__":
    main()
