"""The worker's named jobs, each also runnable at once with `steward run-job NAME`.

- ``alerts``: evaluate the accounts whose data changed since the last pass (as of
  today, UTC) and announce alerts that opened or resolved;
- ``snapshot``: score every account for yesterday (the daily health snapshot), then
  run ``tiers``;
- ``tiers``: from the latest scoring, announce tier changes to the owning CSM, and the
  conditions of accounts no real-time pass has looked at since (e.g. inactivity);
- ``digests`` / ``manager``: post each subscribed channel's daily (or manager) digest
  once its local time has come;
- ``send``: post what the outbox holds that is due (quiet hours over, retries);
- ``prune``: forget sent messages after a month;
- ``sync``: run the warehouse syncs of ``[sync.<name>]`` whose interval has passed.

Every job only writes to the outbox and then sends; exactly-once lives in the outbox
keys and the alert state, so two workers may run the same jobs at the same time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy.engine import Connection

from core.messages import Card, Section, card_to_dict
from digests import alerts as alerting
from digests.alerts import Evaluation, PassReport
from digests.compose import compose_digest
from digests.manager import manager_digest
from digests.schedule import due_period, zone
from handlers.chat.narrative import summarise_digest
from services import sync as warehouse
from services.container import Services
from services.delivery import Sender
from services.digest_book import Book, read_book, scope_words
from services.scoring import evaluate_now, score_day
from signals.alerts import AlertKey
from signals.model import Snapshot
from storage import alert_states, job_runs, outbox, repository, snapshots
from storage import teams as teams_references
from storage.book import data_span
from storage.db import read_connection, write_transaction
from storage.repository import Routing
from storage.subscriptions import Sub, list_subscriptions

log = logging.getLogger(__name__)
T = TypeVar("T")

CHUNK = 500  # accounts per alert transaction
MAX_CHANGED = 5000  # accounts per alert pass; the rest wait for the next minute
KEEP_SENT = timedelta(days=30)
# a sender retrying one webhook-id / Idempotency-Key gets its first answer again for a
# week (Standard Webhooks senders give up within days); the events' own ids dedupe for ever
DELIVERY_REPLAY_WINDOW = timedelta(days=7)
MUST_OPEN_SHOWN = 8  # CSMs named in a Teams digest as not reachable yet


class UnknownJob(Exception):
    """No job has this name."""


class Jobs:
    """The jobs of one worker process, over its services and platform senders."""

    def __init__(self, services: Services, senders: Mapping[str, Sender]) -> None:
        self.services = services
        self.engine = services.engine
        self.config = services.settings.scoring_config()
        self.senders = dict(senders)

    def run(self, name: str, now: datetime | None = None) -> str:
        """Run a job by name, record how it went, and return its one-line summary."""
        job = self._job(name)
        now = now or self.services.clock()
        with write_transaction(self.engine) as conn:
            job_runs.started(conn, name, now=now)
        try:
            summary = job(now)
        except Exception as exc:
            with write_transaction(self.engine) as conn:
                job_runs.finished(conn, name, now=self.services.clock(), ok=False, summary=f"{exc}")
            raise
        with write_transaction(self.engine) as conn:
            job_runs.finished(conn, name, now=self.services.clock(), ok=True, summary=summary)
        log.info("job %s: %s", name, summary)
        return summary

    def _job(self, name: str) -> Callable[[datetime], str]:
        if name not in JOBS:
            raise UnknownJob(f"No job {name!r}: the jobs are {', '.join(JOBS)}.")
        return partial(JOBS[name].run, self)

    def alerts(self, now: datetime) -> str:
        """Evaluate changed accounts as of today and announce what opened or resolved."""
        with read_connection(self.engine) as conn:
            baseline = not alert_states.ever_evaluated(conn)
            changed = alert_states.changed_accounts(conn, limit=MAX_CHANGED)
            ids = sorted(repository.account_routing(conn)) if baseline else sorted(changed)
            subs = list_subscriptions(conn, kind="alerts")
        report = PassReport(baseline=baseline)
        for chunk in _chunks(ids, CHUNK):
            signals = evaluate_now(
                self.engine, account_ids=chunk, as_of=now.date(), config=self.config
            )
            evaluations = [Evaluation.of(s) for s in signals]
            with write_transaction(self.engine) as conn:
                self._announce(conn, evaluations, subs, now, baseline, report)
                if baseline:
                    alert_states.mark_changed(conn, chunk, now=now)
                seen = {i: changed.get(i, now) for i in chunk}
                alert_states.mark_evaluated(conn, seen)
        return report.words() + self._send_words(now)

    def _announce(
        self,
        conn: Connection,
        evaluations: Sequence[Evaluation],
        subs: Sequence[Sub],
        now: datetime,
        baseline: bool,
        report: PassReport,
    ) -> None:
        notices = alerting.record(conn, evaluations, now=now, baseline=baseline, report=report)
        platforms = sorted({*self.senders, *(s.platform for s in subs)})
        for platform in platforms:
            alerting.route(
                conn,
                notices,
                subs,
                platform=platform,
                now=now,
                report=report,
                direct=platform in self.senders,
                daily_cap=self.services.settings.alert_daily_cap,
            )

    def snapshot(self, now: datetime) -> str:
        """Score every account for yesterday and keep the snapshots; then announce tiers."""
        if data_span(self.engine) is None:
            return "no usage stored yet: nothing to score"
        as_of = now.date() - timedelta(days=1)
        run = score_day(self.engine, as_of=as_of, config=self.config, now=now)
        tiers = run.tiers()
        words = ", ".join(f"{n} {tier}" for tier, n in sorted(tiers.items()))
        return f"scored {len(run.signals)} accounts as of {as_of} ({words}); " + self.tiers(now)

    def tiers(self, now: datetime) -> str:
        """From the latest scoring: tier changes, and conditions no real-time pass has seen."""
        with read_connection(self.engine) as conn:
            day = snapshots.latest_day(conn)
            if day is None:
                return "nothing scored yet"
            book = snapshots.snapshots_on(conn, day=day)
            routing = repository.account_routing(conn)
            fresher = _evaluated_after(conn, day)
            baseline = not alert_states.ever_evaluated(conn)
            subs = list_subscriptions(conn, kind="alerts")
        evaluations = [
            _from_snapshot(s, routing[s.account_id], conditions=s.account_id not in fresher)
            for s in book.values()
            if s.account_id in routing
        ]
        report = PassReport(baseline=baseline)
        for chunk in _chunks(evaluations, CHUNK):
            with write_transaction(self.engine) as conn:
                self._announce(conn, chunk, subs, now, baseline, report)
        return f"as scored on {day}: " + report.words() + self._send_words(now)

    def digests(self, now: datetime) -> str:
        """Queue and post the daily digests whose local time has come."""
        return self.post_digests(now, kinds=("digest",))

    def manager(self, now: datetime) -> str:
        """Queue and post the manager digests whose local time has come."""
        return self.post_digests(now, kinds=("manager",))

    def post_digests(
        self,
        now: datetime,
        *,
        kinds: Sequence[str] = ("digest", "manager"),
        channel: str | None = None,
        force: bool = False,
    ) -> str:
        """Queue each due digest once (``force``: due now, whatever the time), then send."""
        with read_connection(self.engine) as conn:
            subs = [s for k in kinds for s in list_subscriptions(conn, kind=k, channel=channel)]
            day = snapshots.latest_day(conn)
        if day is None:
            return "nothing scored yet: run `steward score` (or the snapshot job) first"
        queued = skipped = 0
        book: Book | None = None
        for sub in subs:
            period = due_period(sub, now) or (_local_date(sub, now) if force else None)
            if period is None:
                continue
            key = outbox.outbox_key(sub.platform, sub.channel, sub.kind, None, period)
            with read_connection(self.engine) as conn:
                if outbox.exists(conn, key):
                    skipped += 1
                    continue
            book = book or read_book(self.engine, day, now)
            card = summarise_digest(self._digest_card(sub, book, period), self.services.digest_llm)
            with write_transaction(self.engine) as conn:
                added = outbox.enqueue(
                    conn,
                    platform=sub.platform,
                    channel=sub.channel,
                    kind=sub.kind,
                    account_id=None,
                    period=period,
                    card=card_to_dict(card),
                    now=now,
                )
            queued += added is not None
            skipped += added is None
        summary = f"{queued} digests queued, {skipped} already queued or sent"
        return summary + self._send_words(now)

    def _digest_card(self, sub: Sub, book: Book, period: str) -> Card:
        chosen = book.select(sub)
        title = (
            f"{'Manager digest' if sub.kind == 'manager' else 'Morning digest'}: {scope_words(sub)}"
        )
        if sub.kind == "manager":
            ids = None if sub.scope == "all" else [s.account_id for s in chosen]
            return manager_digest(
                self.engine,
                day=book.day,
                config=self.config,
                account_ids=ids,
                title=title,
                notes=book.notes,
                platform=sub.platform,
            )
        card = compose_digest(
            book.day, chosen, book.names, title=title, notes=book.notes, platform=sub.platform
        )
        if not chosen:
            card = Card(
                title=title,
                summary=f"{title}: no scored account is in this scope ({period}).",
                footer=card.footer,
            )
        sections = card.sections
        if sub.platform == "teams" and chosen:
            sections = (*sections, *self._must_open_steward(chosen, book))
        return Card(
            title=card.title,
            summary=card.summary,
            sections=sections,
            footer=card.footer,
            tone=card.tone,
        )

    def _must_open_steward(self, chosen: Sequence[Snapshot], book: Book) -> tuple[Section, ...]:
        """A line naming the CSMs of these accounts whom Steward cannot write to in Teams
        yet (no personal chat: they have never opened Steward there)."""
        owners = [r.csm for s in chosen if (r := book.routing.get(s.account_id)) and r.csm]
        with read_connection(self.engine) as conn:
            missing = teams_references.unreachable_people(conn, sorted(set(owners)))
        if not missing:
            return ()
        shown = ", ".join(missing[:MUST_OPEN_SHOWN])
        more = (
            f" and {len(missing) - MUST_OPEN_SHOWN} more" if len(missing) > MUST_OPEN_SHOWN else ""
        )
        return (
            Section(
                title="Not reachable in Teams yet",
                text=(
                    f"{shown}{more} must open Steward in Teams once (Apps > Steward > Open) "
                    "to get their accounts' alerts in a personal chat."
                ),
            ),
        )

    def send(self, now: datetime) -> str:
        """Post what is due in the outbox, for every platform configured."""
        return self._send_words(now).removeprefix("; ") or "no platform configured to send"

    def _send_words(self, now: datetime) -> str:
        parts = []
        for platform, sender in self.senders.items():
            report = sender.send_due(now)
            parts.append(f"{platform}: {report.words()}")
        return ("; " + "; ".join(parts)) if parts else ""

    def sync(self, now: datetime) -> str:
        """Run the configured warehouse syncs that are due."""
        settings = self.services.settings
        return warehouse.run_due(
            self.engine, settings.syncs, limits=settings.ingest, now=self.services.clock
        )

    def prune(self, now: datetime) -> str:
        """Forget sent messages (and the clicks on them) after KEEP_SENT, and webhook
        deliveries past their replay window (in batches, each its own transaction)."""
        with write_transaction(self.engine) as conn:
            gone = outbox.prune_sent(conn, before=now - KEEP_SENT)
        forgotten = 0
        while True:
            with write_transaction(self.engine) as conn:
                batch = repository.prune_deliveries(conn, before=now - DELIVERY_REPLAY_WINDOW)
            forgotten += batch
            if batch == 0:
                break
        return (
            f"{gone} sent messages older than {KEEP_SENT.days} days forgotten; "
            f"{forgotten} webhook deliveries older than {DELIVERY_REPLAY_WINDOW.days} days "
            "forgotten"
        )


def _local_date(sub: Sub, now: datetime) -> str:
    return now.astimezone(zone(sub)).date().isoformat()


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _evaluated_after(conn: Connection, day: date) -> set[str]:
    """Accounts the real-time pass evaluated after ``day`` ended: it knows better."""
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return alert_states.evaluated_since(conn, end)


def _from_snapshot(s: Snapshot, r: Routing, *, conditions: bool) -> Evaluation:
    texts = s.explained("flags") or {}
    events = {
        str(AlertKey("tier_change", day=s.tier_since)): str(a.get("evidence", ""))
        for a in s.explained("alerts") or []
        if a.get("kind") == "tier_change"
    }
    return Evaluation(
        account_id=s.account_id,
        name=r.name,
        csm=r.csm,
        ae=r.ae,
        segment=r.segment,
        tier=s.tier,
        flags={flag: str(texts.get(flag, "")) for flag in s.flags},
        events=events,
        conditions=conditions,
    )


@dataclass(frozen=True, slots=True)
class Every:
    """Run on every worker tick (STEWARD_WORKER_TICK_SECONDS), ``per_tick`` times a tick."""

    per_tick: int = 1


@dataclass(frozen=True, slots=True)
class Daily:
    """Run once a day, ``hours_after`` the snapshot time (STEWARD_SNAPSHOT_AT, UTC)."""

    hours_after: int = 0


@dataclass(frozen=True, slots=True)
class Job:
    """One named job: what runs it, when the worker runs it (None: by hand only), its help."""

    name: str
    run: Callable[[Jobs, datetime], str]
    trigger: Every | Daily | None
    help: str


REGISTRY = (
    Job(
        "alerts",
        Jobs.alerts,
        Every(),
        "announce alerts for accounts whose data changed (every minute)",
    ),
    Job(
        "snapshot",
        Jobs.snapshot,
        Daily(),
        "score every account for yesterday, then run tiers (daily)",
    ),
    Job(
        "tiers",
        Jobs.tiers,
        None,
        "announce tier changes and daily conditions from the latest scoring",
    ),
    Job(
        "digests",
        Jobs.digests,
        Every(),
        "post daily digests whose local time has come (every minute)",
    ),
    Job(
        "manager",
        Jobs.manager,
        Every(),
        "post manager digests whose local time has come (every minute)",
    ),
    Job(
        "send",
        Jobs.send,
        Every(per_tick=4),
        "post due outbox messages: quiet hours over, retries (every 15 s)",
    ),
    Job(
        "prune",
        Jobs.prune,
        Daily(hours_after=1),
        "forget sent messages older than 30 days, webhook deliveries older than 7 (daily)",
    ),
    Job(
        "sync",
        Jobs.sync,
        Every(),
        "read new rows from the warehouses of [sync.<name>] whose interval has passed",
    ),
)
JOBS = {job.name: job for job in REGISTRY}  # what the worker, `steward run-job` and the demo run
