"""The demo's database: a generated book stored through the real pipeline, then the jobs.

It generates a year of usage for a few hundred accounts (``demo.book``, every usage
shape present), stores it through the ingestion path (``demo.seeding.send_book``:
validation, idempotency, rollups) in a SQLite file, and runs the worker's own jobs
(``services.jobs``: the daily snapshot a week ago and this morning, with its tier
changes and alerts, then the digests) into the outbox for the terminal.

The book is a function of its seed: a second run with the same seed and size finds it
in the database (recorded as the job run ``demo-book``) and reuses it. The demo never
touches ``DATABASE_URL``'s database: it opens its own file.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from core.settings import Settings
from demo.book import TIMEZONES, Book, generate_book
from demo.seeding import send_book
from handlers.chat.context import Context, Person, display_name
from services.container import Services, build_services
from services.delivery import Sender
from services.jobs import Jobs
from storage import job_runs, repository, snapshots
from storage import migrate as migrations
from storage.db import read_connection, write_transaction
from storage.subscriptions import upsert_subscription

DEFAULT_DATABASE = Path("steward-demo.db")
DEFAULT_CHARTS = Path("steward-demo-charts")
DEFAULT_SEED = 7
DEFAULT_ACCOUNTS = 200
MIN_ACCOUNTS = 20  # fewer, and some usage shapes would be missing
DAYS = 365
EVENTS_PER_DAY_CAP = 3  # one event per metric and day: ~170,000 events for 200 accounts
RUN_NAME = "demo-book"
MANAGER_CHANNEL = "#cs-leads"
ALERTS_CHANNEL = "#cs-alerts"
DIGEST_TIME = clock(8, 30)
SNAPSHOTS = ((28, "four weeks ago"), (7, "a week ago"), (0, "this morning"))  # days back
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")  # a URL, even as Path made it
SPEC = re.compile(r"seed=(-?\d+) accounts=(\d+) days=(\d+) cap=(\d+) end=(\d{4}-\d\d-\d\d)")


class DemoError(Exception):
    """The demo cannot run as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class BookSpec:
    """What identifies a demo book: its seed, size and last day."""

    seed: int
    accounts: int
    end: date

    @property
    def start(self) -> date:
        """The book's first day."""
        return self.end - timedelta(days=DAYS - 1)

    def words(self) -> str:
        """The spec as recorded in the ``demo-book`` job run."""
        return (
            f"seed={self.seed} accounts={self.accounts} days={DAYS} "
            f"cap={EVENTS_PER_DAY_CAP} end={self.end.isoformat()}"
        )

    @classmethod
    def parse(cls, text: str | None) -> BookSpec | None:
        """The spec a job run recorded; None if it records another kind of book."""
        match = SPEC.search(text or "")
        if not match or (int(match[3]), int(match[4])) != (DAYS, EVENTS_PER_DAY_CAP):
            return None
        return cls(int(match[1]), int(match[2]), date.fromisoformat(match[5]))

    def generate(self) -> Book:
        """Draw the book (its events are drawn as they are sent)."""
        return generate_book(
            seed=self.seed,
            accounts=self.accounts,
            start=self.start,
            days=DAYS,
            events_per_day_cap=EVENTS_PER_DAY_CAP,
        )


@dataclass
class Timings:
    """Seconds spent per phase, in the order they ran."""

    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a block and add it to the named phase."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - started

    def words(self) -> str:
        """``generate 0.4 s, ingest 10.2 s, ...``."""
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items())


@dataclass
class Demo:
    """A demo database ready to answer: its services, book, clock and featured CSM."""

    services: Services
    spec: BookSpec
    reused: bool
    morning: datetime  # the demo's "now": the morning after the book's last day
    csm: str
    accepted: Counter[str] = field(default_factory=Counter)
    jobs: list[str] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)

    @property
    def user(self) -> Person:
        """The featured CSM, as the person typing in the terminal."""
        return Person(self.csm, email=self.csm, name=display_name(self.csm))

    def context(self) -> Context:
        """What the command handlers read, at the demo's clock."""
        return Context(
            engine=self.services.engine,
            config=self.services.settings.scoring_config(),
            now=self.morning,
            llm=self.services.llm,
        )


def database_url(database: Path) -> str:
    """The SQLite URL of the demo file; the demo runs on SQLite only."""
    text = str(database)
    if URL_SCHEME.match(text):
        raise DemoError(
            "--database takes a file path: the demo runs on SQLite only, in its own file "
            "(`steward migrate` and `steward serve` use DATABASE_URL, PostgreSQL included)."
        )
    return f"sqlite:///{database.resolve()}"


def remove_database(database: Path) -> bool:
    """Delete the demo file and SQLite's side files; return whether there was one."""
    found = database.exists()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    return found


# What the demo's outcomes are worth, so /value shows hours and money saved; used
# unless steward.toml sets [scoring.value_factors] itself.
DEMO_VALUE_FACTORS: dict[str, dict[str, object]] = {
    "resolutions": {"label": "of agent time saved", "minutes": 6, "hourly_rate": 40},
    "api_calls": {"label": "of manual lookups saved", "minutes": 0.01, "hourly_rate": 40},
    "tokens": {"label": "of writing time saved", "minutes": 0.00005, "hourly_rate": 40},
}


def open_demo(settings: Settings, database: Path) -> Services:
    """Services on the demo file (created and migrated as needed), not on DATABASE_URL."""
    scoring = dict(settings.scoring)
    scoring.setdefault("value_factors", DEMO_VALUE_FACTORS)
    config = settings.model_copy(
        update={"database_url": database_url(database), "scoring": scoring}
    )
    services = build_services(config)
    if migrations.pending(services.engine):
        migrations.upgrade(services.engine)
    return services


def book_end(now: datetime) -> date:
    """The latest day that is over in every account time zone: the book ends there."""
    return min(now.astimezone(ZoneInfo(tz)).date() for tz, _ in TIMEZONES) - timedelta(days=1)


def morning_after(end: date, now: datetime) -> datetime:
    """The demo's clock: the morning after the book's last day (never later than now)."""
    return min(now, datetime.combine(end + timedelta(days=1), DIGEST_TIME, tzinfo=UTC))


def prepare(
    services: Services,
    *,
    seed: int,
    accounts: int,
    now: datetime,
    err: Console,
    timings: Timings,
) -> Demo:
    """Reuse the seed's book if the file holds it, else generate and ingest it."""
    if accounts < MIN_ACCOUNTS:
        raise DemoError(f"--accounts must be at least {MIN_ACCOUNTS}, for every usage shape.")
    stored = _stored_spec(services)
    if stored is not None and (stored.seed, stored.accounts) == (seed, accounts):
        return _demo(services, stored, now, timings, reused=True)
    _refuse_other_data(services, stored)
    spec = BookSpec(seed, accounts, book_end(now))
    with timings.phase("generate"):
        book = spec.generate()
    with timings.phase("ingest"):
        accepted = _ingest(services, spec, book, now, err)
    return _demo(services, spec, now, timings, reused=False, accepted=accepted)


def _demo(
    services: Services,
    spec: BookSpec,
    now: datetime,
    timings: Timings,
    *,
    reused: bool,
    accepted: Counter[str] | None = None,
) -> Demo:
    return Demo(
        services,
        spec,
        reused,
        morning_after(spec.end, now),
        _busiest_csm(services),
        accepted=accepted or Counter(),
        timings=timings,
    )


def _stored_spec(services: Services) -> BookSpec | None:
    with read_connection(services.engine) as conn:
        runs = {run.name: run for run in job_runs.all_runs(conn)}
    run = runs.get(RUN_NAME)
    return BookSpec.parse(run.summary) if run is not None and run.status == "ok" else None


def _refuse_other_data(services: Services, stored: BookSpec | None) -> None:
    with read_connection(services.engine) as conn:
        count = repository.count_accounts(conn)
    if not count:
        return
    what = (
        f"the demo book of seed {stored.seed} with {stored.accounts} accounts"
        if stored is not None
        else f"{count} accounts that are not a complete demo book"
    )
    raise DemoError(
        f"The demo database already holds {what}. Add --fresh to start it again, "
        "give --database another file, or run with that --seed and --accounts."
    )


def _ingest(
    services: Services, spec: BookSpec, book: Book, now: datetime, err: Console
) -> Counter[str]:
    """Send the book through validation and storage, with a progress bar over its days."""
    with write_transaction(services.engine) as conn:
        job_runs.started(conn, RUN_NAME, now=now)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TextColumn("{task.fields[events]:,} events"), console=err) as bar:
        task = bar.add_task("storing accounts", total=DAYS, events=0)

        def advance(kind: str, items: Sequence[Mapping[str, Any]]) -> None:
            if kind != "events":
                bar.update(task, description=f"storing {kind}")
                return
            last = date.fromisoformat(str(items[-1]["timestamp"])[:10])
            done = min(DAYS, (last - spec.start).days + 1)
            events = bar.tasks[0].fields["events"] + len(items)
            bar.update(task, description="storing usage, day", completed=done, events=events)

        accepted = send_book(
            services.engine,
            book,
            now=now,
            limits=services.settings.ingest,
            progress=advance,
        )
        bar.update(task, completed=DAYS)
    summary = spec.words() + " " + " ".join(f"{k}={n}" for k, n in sorted(accepted.items()))
    with write_transaction(services.engine) as conn:
        job_runs.finished(conn, RUN_NAME, now=now, ok=True, summary=summary)
    return accepted


def _busiest_csm(services: Services) -> str:
    """The CSM with the most accounts (the first by name on a tie)."""
    with read_connection(services.engine) as conn:
        routing = repository.account_routing(conn)
    counts = Counter(r.csm for r in routing.values() if r.csm)
    if not counts:
        raise DemoError("The demo book has no CSMs: nothing to show.")
    return min(counts, key=lambda csm: (-counts[csm], csm))


def run_jobs(demo: Demo, platform: str, sender: Sender) -> None:
    """Run the worker's daily snapshot four weeks ago, a week ago and this morning, then digests.

    The first snapshot's alert pass is the silent baseline; each later one announces
    what changed since (alerts, resolutions, tier moves) to the channels of ``platform``
    (the terminal's, delivered by ``sender``), and
    this morning's digests compare with a week ago. A database already scored this
    morning is left as it is: its messages are in the outbox.
    """
    engine = demo.services.engine
    with read_connection(engine) as conn:
        latest = snapshots.latest_day(conn)
    if latest is not None and latest >= demo.spec.end:
        demo.jobs.append(
            f"No job run: the book was scored as of {latest} before; its messages are in "
            "the outbox."
        )
        return
    _subscribe(demo, platform)
    jobs = Jobs(demo.services, {platform: sender})
    with demo.timings.phase("score"):
        for days, when in SNAPSHOTS:
            summary = jobs.run("snapshot", demo.morning - timedelta(days=days))
            demo.jobs.append(f"Job snapshot {when}: {summary}")
    with demo.timings.phase("jobs"):
        demo.jobs.append("Job digests: " + jobs.post_digests(demo.morning, force=True))


def _subscribe(demo: Demo, platform: str) -> None:
    """Console channels for the manager digest, the featured CSM's digest and all alerts."""
    name = display_name(demo.csm)
    wanted: tuple[tuple[str, str, dict[str, Any]], ...] = (
        (MANAGER_CHANNEL, "manager", {}),
        (ALERTS_CHANNEL, "alerts", {}),
        (
            csm_channel(demo.csm),
            "digest",
            {"scope": "book", "scope_value": demo.csm, "owner_handles": (demo.csm, name)},
        ),
    )
    with write_transaction(demo.services.engine) as conn:
        for channel, kind, scope in wanted:
            upsert_subscription(
                conn,
                platform=platform,
                channel=channel,
                kind=kind,
                created_by="steward demo",
                now=demo.morning,
                at_time=DIGEST_TIME.strftime("%H:%M"),
                **scope,
            )


def csm_channel(csm: str) -> str:
    """The console channel of a CSM's own digest."""
    return "#book-" + csm.split("@", 1)[0].replace(".", "-")
