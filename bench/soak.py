"""A soak under faults: nothing lost, nothing doubled, no answer dropped, no 500 to Slack.

Run from the repository root (as root it runs PostgreSQL as the ``postgres`` user):

    .venv/bin/python bench/soak.py [--seconds 600] [--senders 4] [--batch 200]

It starts its own PostgreSQL cluster on a free loopback port (initdb + pg_ctl, in a
temporary directory, removed at the end), a fake Slack on loopback, ``steward serve
--workers 2`` and two ``steward worker`` processes against them, then for ``--seconds``:

- ``--senders`` threads post signed batches of ``--batch`` events to ``/v1/events``,
  each with its own delivery id, retrying as real senders do (the same delivery id,
  backing off) on a 5xx or a lost connection;
- a CSM types ``/health`` every second (signed as Slack signs), and the answer is
  expected at the fake ``response_url``;
- messages are queued in the outbox (five a second) for the workers to post;

while faults strike on a timeline scaled to the duration: ``kill -9`` of the web
processes (twice; restarted), PostgreSQL stopped ``-m immediate`` (twice, 20 s each
on a 10-minute run), one worker killed (restarted), Slack answering 429 then 500 for
a minute. Then it waits for the retries to settle and prints the figures: events
sent, acknowledged and stored, duplicates and losses, rollups against the raw
events, outbox posts against the keys queued, commands acknowledged against
answered, HTTP 5xx by phase and route, recovery after each fault, memory growth.

It exits 1 when a figure the reliability issue requires is off (a duplicate, a loss,
an acknowledged command left unanswered, a 500 on a Slack route), unless
``--report-only``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.messages import Card, card_to_dict  # noqa: E402
from storage import outbox  # noqa: E402
from storage.db import make_engine, write_transaction  # noqa: E402
from tests.support.fakes.slack import FakeSlack  # noqa: E402
from tests.support.sender import sign  # noqa: E402
from tests.support.slack_signing import signed_headers, slash_command_body  # noqa: E402

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-soak"
CHANNEL = "CSOAK"
ACCOUNTS = 50
CATCHING_UP = "catching up"
START_TIMEOUT = 180.0  # a loaded 2-core machine can take a while to start the web workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class Postgres:
    """A private PostgreSQL cluster on a loopback port, in a temporary directory."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            sys.exit("soak: PostgreSQL's initdb not found under /usr/lib/postgresql")
        self.bin = found[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="steward-soak-pg-"))
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
            "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Figures:
    """What happened, counted by the threads (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    batches_sent: int = 0
    events_sent: int = 0
    acknowledged: dict[str, int] = field(default_factory=dict)  # batch prefix -> events
    unconfirmed: set[str] = field(default_factory=set)  # gave up: stored or not, unknown
    statuses: collections.Counter[tuple[str, str, int]] = field(
        default_factory=collections.Counter
    )  # (phase, route, status)
    successes: list[float] = field(default_factory=list)  # times of 200s on /v1/events
    commands: dict[str, str] = field(default_factory=dict)  # name -> "ack", "told", "refused"
    queued_keys: list[str] = field(default_factory=list)

    def status(self, phase: str, route: str, code: int) -> None:
        with self.lock:
            self.statuses[(phase, route, code)] += 1


class Timeline:
    """The faults, each at a share of the run, and the phase any moment is in."""

    def __init__(self, seconds: float) -> None:
        self.start = time.monotonic()
        self.seconds = seconds
        outage = min(20.0, seconds * 0.08)
        slack = min(60.0, seconds * 0.12)
        self.faults: list[tuple[float, str, float]] = [  # (at, what, how long)
            (0.12 * seconds, "kill web", 0.0),
            (0.25 * seconds, "stop database", outage),
            (0.42 * seconds, "kill worker", 0.0),
            (0.55 * seconds, "slack 429/500", slack),
            (0.72 * seconds, "kill web", 0.0),
            (0.85 * seconds, "stop database", outage),
        ]
        self.phase = "steady"
        self.ended: list[tuple[str, float]] = []  # (fault, when it ended)
        self.broken: list[str] = []  # faults the soak could not undo (a process not back)

    def now(self) -> float:
        return time.monotonic() - self.start


class Processes:
    """``steward serve --workers 2`` and two ``steward worker``s, each in its own group."""

    def __init__(self, env: dict[str, str], port: int, logs: Path) -> None:
        self.env, self.port, self.logs = env, port, logs
        self.steward = str(Path(sys.executable).parent / "steward")
        self.web: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.rss: dict[str, list[float]] = collections.defaultdict(list)

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        out = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(
            [self.steward, *args], env=self.env, stdout=out, stderr=out, start_new_session=True
        )

    def start_web(self) -> None:
        self.web = self._spawn(
            "web", "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2",
            "--log-level", "warning",
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"steward serve did not come up in {START_TIMEOUT:.0f} s")

    def kill_web(self) -> None:
        assert self.web is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.web.pid, signal.SIGKILL)
        self.web.wait()

    def start_worker(self, index: int) -> None:
        worker = self._spawn(f"worker{index}", "worker", "--log-level", "warning")
        if index < len(self.workers):
            self.workers[index] = worker
        else:
            self.workers.append(worker)

    def kill_worker(self, index: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait()

    def measure(self, label: str) -> dict[str, float]:
        """Resident memory (MB) of every Steward process now."""
        found: dict[str, float] = {}
        groups = [("web", self.web)] + [(f"worker{i}", w) for i, w in enumerate(self.workers)]
        for name, proc in groups:
            if proc is None or proc.poll() is not None:
                continue
            for pid in _group_pids(proc.pid):
                found[f"{name}:{pid}"] = _rss_mb(pid)
        self.rss[label].append(sum(found.values()))
        return found

    def stop(self) -> None:
        for proc in [self.web, *self.workers]:
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in [self.web, *self.workers]:
            if proc is not None:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
    return pids


def _rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sender(k: int, url: str, batch: int, stop: threading.Event, fig: Figures, tl: Timeline) -> None:
    """Post batches until told to stop; each batch is retried until acknowledged."""
    client = httpx.Client(base_url=url, timeout=30)
    n = 0
    while not stop.is_set():
        n += 1
        prefix = f"soak-{k}-{n}/"
        now = datetime.now(UTC)
        events = [
            {
                "id": f"{prefix}{i}",
                "account": f"acct-{random.randrange(ACCOUNTS)}",
                "timestamp": (now - timedelta(minutes=random.randrange(60))).isoformat(),
                "metric": random.choice(("tokens", "api_calls")),
                "quantity": float(random.randrange(1, 100)),
            }
            for i in range(batch)
        ]
        raw = orjson.dumps({"events": events})
        msg_id = f"msg-{prefix}"
        with fig.lock:
            fig.batches_sent += 1
            fig.events_sent += batch
        wait, give_up = 0.2, time.monotonic() + 120
        while True:
            ts = int(time.time())
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(ts),
                "webhook-signature": sign(SECRET, msg_id, ts, raw),
            }
            try:
                response = client.post("/v1/events", content=raw, headers=headers)
                code = response.status_code
            except httpx.HTTPError:
                code = 0  # no answer: the web process is gone
            fig.status(tl.phase, "/v1/events", code)
            if code == 200:
                with fig.lock:
                    fig.acknowledged[prefix] = batch
                    fig.successes.append(tl.now())
                break
            if 400 <= code < 500 or time.monotonic() > give_up:
                with fig.lock:
                    fig.unconfirmed.add(prefix)
                break
            time.sleep(wait)  # a sender backing off before it retries the same delivery
            wait = min(wait * 2, 2.0)
    client.close()


def commander(url: str, fake: FakeSlack, stop: threading.Event, fig: Figures, tl: Timeline) -> None:
    """A CSM typing /health every second."""
    client = httpx.Client(base_url=url, timeout=10)
    n = 0
    while not stop.is_set():
        n += 1
        name = f"cmd{n}"
        body = slash_command_body(
            "/health", f"acct-{n % ACCOUNTS}", response_url=fake.response_url(name)
        )
        headers = signed_headers(body, SIGNING_SECRET)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = client.post("/slack/events", content=body, headers=headers)
            code, text = response.status_code, response.text
        except httpx.HTTPError:
            code, text = 0, ""
        fig.status(tl.phase, "/slack/events", code)
        with fig.lock:
            if code == 200:
                fig.commands[name] = "told" if CATCHING_UP in text else "ack"
            else:
                fig.commands[name] = "refused"
        stop.wait(1.0)
    client.close()


def queuer(db_url: str, stop: threading.Event, fig: Figures) -> None:
    """Five outbox messages a second for the workers to post (when the database is up)."""
    engine = make_engine(db_url, pool_size=1)
    card = card_to_dict(Card(title="Soak", summary="A soak message."))
    n = 0
    while not stop.is_set():
        for _ in range(5):
            key_period = f"soak-{n}"
            try:
                with write_transaction(engine) as conn:
                    added = outbox.enqueue(
                        conn,
                        platform="slack",
                        channel=CHANNEL,
                        kind="alert",
                        account_id=None,
                        period=key_period,
                        card=card,
                        now=datetime.now(UTC),
                    )
            except Exception:  # the database is down: try this one again next second
                break
            if added is not None:
                with fig.lock:
                    fig.queued_keys.append(
                        outbox.outbox_key("slack", CHANNEL, "alert", None, key_period)
                    )
            n += 1
        stop.wait(1.0)
    engine.dispose()


def run_faults(
    tl: Timeline, pg: Postgres, procs: Processes, fake: FakeSlack, stop: threading.Event
) -> None:
    for at, what, length in tl.faults:
        if stop.wait(max(0.0, at - tl.now())):
            return
        log(f"fault: {what}" + (f" for {length:.0f} s" if length else ""))
        tl.phase = what
        try:
            _strike(what, length, pg, procs, fake, stop)
        except Exception as exc:  # the soak goes on, and the verdict says it
            log(f"fault '{what}' could not be undone: {exc}")
            tl.broken.append(f"{what}: {exc}")
        tl.ended.append((what, tl.now()))
        tl.phase = "steady"


def _strike(
    what: str,
    length: float,
    pg: Postgres,
    procs: Processes,
    fake: FakeSlack,
    stop: threading.Event,
) -> None:
    """One fault, and its end (restart, start, Slack back)."""
    if what == "kill web":
        procs.kill_web()
        procs.start_web()
    elif what == "stop database":
        pg.stop("immediate")
        stop.wait(length)
        pg.start()
    elif what == "kill worker":
        procs.kill_worker(0)
        procs.start_worker(0)
    elif what == "slack 429/500":
        fake.outage(429, retry_after=5)
        stop.wait(length / 2)
        fake.outage(500)
        stop.wait(length / 2)
        fake.outage(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--settle", type=float, default=90.0, help="seconds to let retries finish")
    parser.add_argument("--report-only", action="store_true", help="exit 0 whatever the figures")
    args = parser.parse_args()

    pg = Postgres()
    logs = Path(tempfile.mkdtemp(prefix="steward-soak-logs-"))
    procs: Processes | None = None
    failures: list[str] = ["the soak did not finish"]
    try:
        with FakeSlack(bot_token=BOT_TOKEN) as fake:
            fake.add_user("U123", name="casey", email="casey@example.com")
            fake.add_channel("C123", name="cs-team")
            fake.add_channel(CHANNEL, name="cs-alerts")
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": pg.url,
                "STEWARD_WEBHOOK_SECRETS": SECRET,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": fake.base_url,
                "SLACK_CHARTS": "false",  # 2 cores: drawing a chart a second would be the soak
            }
            subprocess.run(
                [str(Path(sys.executable).parent / "steward"), "migrate"],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            procs = Processes(env, port, logs)
            procs.start_web()
            procs.start_worker(0)
            procs.start_worker(1)
            url = f"http://127.0.0.1:{port}"
            fig, stop, tl = Figures(), threading.Event(), Timeline(args.seconds)
            threads = [
                threading.Thread(target=sender, args=(k, url, args.batch, stop, fig, tl))
                for k in range(args.senders)
            ]
            threads.append(threading.Thread(target=commander, args=(url, fake, stop, fig, tl)))
            threads.append(threading.Thread(target=queuer, args=(pg.url, stop, fig)))
            faults = threading.Thread(target=run_faults, args=(tl, pg, procs, fake, stop))
            for t in threads:
                t.start()
            faults.start()
            log(f"soak: {args.seconds:.0f} s, {args.senders} senders of {args.batch}-event batches")
            warm = args.seconds * 0.08  # before the first fault, after the imports and caches
            time.sleep(warm)
            started_rss = procs.measure("start")
            time.sleep(args.seconds - warm)
            ending_rss = procs.measure("end")
            stop.set()
            faults.join()
            for t in threads:
                t.join(timeout=150)
            log("load stopped; letting the outbox and the owed answers settle")
            engine = make_engine(pg.url, pool_size=1)
            settled = _settle(engine, fake, fig, args.settle)
            report(engine, fake, fig, tl, started_rss, ending_rss, args, settled)
            failures = verdict(engine, fake, fig) + [f"fault not undone: {b}" for b in tl.broken]
            engine.dispose()
    finally:
        if procs is not None:
            procs.stop()
        pg.remove()
        print(f"logs: {logs}", file=sys.stderr)
    if failures and not args.report_only:
        sys.exit("soak: " + "; ".join(failures))


def _settle(engine: sa.Engine, fake: FakeSlack, fig: Figures, seconds: float) -> float:
    """Wait until the outbox is posted and every acknowledged command is answered."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with engine.connect() as conn:
            pending = conn.scalar(sa.text("SELECT count(*) FROM outbox WHERE status = 'pending'"))
        owed = [n for n, s in fig.commands.items() if s == "ack" and not fake.responses.get(n)]
        if not pending and not owed:
            break
        time.sleep(1.0)
    return time.monotonic() - started


def _stored(engine: sa.Engine) -> tuple[dict[str, int], int, int, float, float]:
    with engine.connect() as conn:
        per_batch = {
            str(b): int(n)
            for b, n in conn.execute(
                sa.text(
                    "SELECT split_part(id, '/', 1) || '/', count(*) FROM usage_events "
                    "WHERE id LIKE 'soak-%' GROUP BY 1"
                )
            )
        }
        raw_events, raw_sum = conn.execute(
            sa.text("SELECT count(*), coalesce(sum(quantity), 0) FROM usage_events")
        ).one()
        daily_events, daily_sum = conn.execute(
            sa.text("SELECT coalesce(sum(events), 0), coalesce(sum(quantity), 0) FROM usage_daily")
        ).one()
    return per_batch, int(raw_events), int(daily_events), float(raw_sum), float(daily_sum)


def _posted(fake: FakeSlack) -> collections.Counter[str]:
    posted: collections.Counter[str] = collections.Counter()
    for (channel, _), message in list(fake.messages.items()):
        key = ((message.get("metadata") or {}).get("event_payload") or {}).get("key")
        if channel == CHANNEL and key:
            posted[str(key)] += 1
    return posted


def verdict(engine: sa.Engine, fake: FakeSlack, fig: Figures) -> list[str]:
    per_batch, raw_events, daily_events, raw_sum, daily_sum = _stored(engine)
    failures = []
    lost = sum(n for b, n in fig.acknowledged.items() if per_batch.get(b, 0) < n)
    doubled = sum(max(0, n - 200) for n in per_batch.values()) + sum(
        n - 1 for n in _posted(fake).values() if n > 1
    )
    partial = [b for b, n in per_batch.items() if n not in (0, fig.acknowledged.get(b, n))]
    unanswered = [n for n, s in fig.commands.items() if s == "ack" and not fake.responses.get(n)]
    slack_500 = sum(n for (_, r, c), n in fig.statuses.items() if r == "/slack/events" and c >= 500)
    if lost:
        failures.append(f"{lost} acknowledged events lost")
    if doubled:
        failures.append(f"{doubled} duplicates")
    if partial:
        failures.append(f"{len(partial)} batches half stored")
    if raw_events != daily_events or abs(raw_sum - daily_sum) > 1e-6 * max(1.0, raw_sum):
        failures.append("rollups differ from the raw events")
    if unanswered:
        failures.append(f"{len(unanswered)} acknowledged commands unanswered")
    if slack_500:
        failures.append(f"{slack_500} HTTP 5xx on /slack/events")
    return failures


def report(
    engine: sa.Engine,
    fake: FakeSlack,
    fig: Figures,
    tl: Timeline,
    started_rss: dict[str, float],
    ending_rss: dict[str, float],
    args: argparse.Namespace,
    settled: float,
) -> None:
    per_batch, raw_events, daily_events, raw_sum, daily_sum = _stored(engine)
    acknowledged = sum(fig.acknowledged.values())
    stored = sum(per_batch.values())
    lost = sum(n for b, n in fig.acknowledged.items() if per_batch.get(b, 0) < n)
    posted = _posted(fake)
    with engine.connect() as conn:
        query = sa.text("SELECT status, count(*) FROM outbox GROUP BY 1")
        statuses: dict[str, int] = {str(k): int(v) for k, v in conn.execute(query)}
    answered = sum(1 for n, s in fig.commands.items() if s == "ack" and fake.responses.get(n))
    kinds = collections.Counter(fig.commands.values())
    rows = [
        ("run", f"{args.seconds:.0f} s of load, {settled:.0f} s to settle"),
        (
            "events sent / acknowledged / stored",
            f"{fig.events_sent:,} / {acknowledged:,} / {stored:,}",
        ),
        ("acknowledged events lost", f"{lost:,}"),
        ("batches never confirmed (sender gave up)", f"{len(fig.unconfirmed):,}"),
        ("duplicate events", f"{sum(max(0, n - args.batch) for n in per_batch.values()):,}"),
        (
            "rollups: events / quantity vs raw",
            f"{daily_events:,} vs {raw_events:,}; {daily_sum:,.0f} vs {raw_sum:,.0f}",
        ),
        ("events acknowledged per second", f"{acknowledged / args.seconds:,.0f}"),
        (
            "outbox keys queued / posted / posted twice",
            f"{len(fig.queued_keys):,} / {len(posted):,} / "
            f"{sum(1 for n in posted.values() if n > 1)}",
        ),
        ("outbox rows by status", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))),
        ("/health acknowledged / answered", f"{kinds['ack']} / {answered}"),
        (
            "/health told 'catching up' / no answer (web down)",
            f"{kinds['told']} / {kinds['refused']}",
        ),
    ]
    by_phase: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for (phase, route, code), n in fig.statuses.items():
        if code >= 500 or code == 0:
            by_phase[phase][f"{route} {'no answer' if code == 0 else code}"] += n
    for phase, counts in sorted(by_phase.items()):
        rows.append(
            (f"errors while '{phase}'", ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        )
    for what, ended in tl.ended:
        after = [t for t in fig.successes if t >= ended]
        recovery = f"{after[0] - ended:.1f} s" if after else "never"
        rows.append((f"first acknowledged batch after '{what}' ended at {ended:.0f} s", recovery))
    minutes = max(args.seconds * 0.92 / 60, 1e-9)
    for name in sorted(set(started_rss) & set(ending_rss)):  # alive all along (not restarted)
        start_mb, end_mb = started_rss[name], ending_rss[name]
        growth = (end_mb - start_mb) / minutes
        rows.append((f"RSS of {name}", f"{start_mb:.0f} -> {end_mb:.0f} MB ({growth:+.1f} MB/min)"))
    print("| figure | value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
