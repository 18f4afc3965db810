"""POST /v1/usage over real HTTP on loopback: daily (or hourly) totals per account and metric,
stored once however often redelivered, a later total replacing the earlier one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from handlers.chat.commands import handle
from handlers.chat.context import CommandRequest, Context, Person
from services.container import utc_now
from signals.config import ScoringConfig
from storage import tables
from tests.support.events import NOW
from tests.support.paths import README
from tests.support.sender import Sender
from tests.support.server import TEST_TOKEN, LiveServer, counts

TODAY = NOW.date()
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()


def summary(n: int, **fields: Any) -> dict[str, Any]:
    row = {"id": f"sum_{n}", "account": "acme", "metric": "tokens", "day": YESTERDAY}
    return {**row, "quantity": 1000.0 + n, **fields}


def daily(db: Engine, account: str = "acme", metric: str = "tokens") -> dict[str, tuple[Any, ...]]:
    u = tables.usage_daily.c
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(u.day, u.quantity, u.events, u.summarized).where(
                u.account_id == account, u.metric == metric
            )
        )
        return {str(r.day): (r.quantity, r.events, bool(r.summarized)) for r in rows}


def summaries_stored(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(tables.usage_summaries)) or 0)


def test_a_signed_batch_of_daily_totals_is_stored_and_read_back(sender: Sender, db: Engine) -> None:
    rows = [summary(0), summary(1, metric="api_calls", events=40, users=7)]

    response = sender.signed("/v1/usage", {"usage": rows})

    assert response.status_code == 200, response.text
    assert response.json() == {"received": 2, "accepted": 2, "duplicates": 0}
    usage = sender.get("/v1/accounts/acme/usage", start=YESTERDAY, end=YESTERDAY).json()
    assert usage["metrics"] == {
        "api_calls": [{"date": YESTERDAY, "quantity": 1001.0, "events": 40}],
        "tokens": [{"date": YESTERDAY, "quantity": 1000.0, "events": 1}],  # no count: active
    }
    assert sender.get("/v1/accounts/acme").json()["is_placeholder"] is True


def test_bearer_token_works_and_nothing_else_does(sender: Sender, db: Engine) -> None:
    assert sender.bearer("/v1/usage", {"usage": [summary(0)]}).status_code == 200
    unsigned = sender.unauthenticated(
        "POST", "/v1/usage", json={"usage": [summary(1)]}, headers={"webhook-id": "x"}
    )
    forged = sender.signed("/v1/usage", {"usage": [summary(2)]}, secret="whsec_Zm9yZ2Vk")

    assert (unsigned.status_code, forged.status_code) == (401, 401)
    assert summaries_stored(db) == 1


def test_redelivered_rows_are_stored_once(sender: Sender, db: Engine) -> None:
    payload = {"usage": [summary(n, day=(TODAY - timedelta(days=n)).isoformat()) for n in range(5)]}
    first = sender.signed("/v1/usage", payload)
    before = daily(db)

    again = sender.signed("/v1/usage", payload)  # a new delivery, the same row ids
    retried = sender.signed("/v1/usage", payload, msg_id="msg_1")
    retried_again = sender.signed("/v1/usage", payload, msg_id="msg_1")

    assert first.json() == {"received": 5, "accepted": 5, "duplicates": 0}
    assert again.json() == {"received": 5, "accepted": 0, "duplicates": 5}
    assert retried.json()["accepted"] == 0
    assert retried_again.json()["duplicate_delivery"] is True
    assert daily(db) == before
    assert summaries_stored(db) == 5


def test_a_later_total_replaces_the_earlier_one_never_adds(sender: Sender, db: Engine) -> None:
    sender.signed("/v1/usage", {"usage": [summary(0, quantity=500.0, events=5)]})
    sender.signed("/v1/usage", {"usage": [summary(1, quantity=800.0, events=8)]})
    # A redelivery of the first row after the second one changes nothing.
    sender.signed("/v1/usage", {"usage": [summary(0, quantity=500.0, events=5)]})

    assert daily(db) == {YESTERDAY: (800.0, 8, True)}


def test_within_one_batch_the_last_total_for_a_day_wins(sender: Sender, db: Engine) -> None:
    rows = [summary(0, quantity=1.0), summary(1, quantity=3.0), summary(2, quantity=2.0)]

    assert sender.signed("/v1/usage", {"usage": rows}).json()["accepted"] == 3
    assert daily(db)[YESTERDAY][0] == 2.0


def test_hourly_totals_fold_into_their_day(sender: Sender, db: Engine) -> None:
    hour = f"{YESTERDAY}T10:00:00Z"
    rows = [
        summary(0, day=None, hour=hour, quantity=10.0, events=1),
        summary(1, day=None, hour=f"{YESTERDAY}T11:00:00+00:00", quantity=20.0, events=2),
        summary(2, day=None, hour=hour, quantity=15.0, events=3),  # replaces 10:00
    ]
    assert sender.signed("/v1/usage", {"usage": rows}).status_code == 200
    assert daily(db) == {YESTERDAY: (35.0, 5, True)}

    sender.signed("/v1/usage", {"usage": [summary(3, quantity=100.0, events=9)]})
    assert daily(db) == {YESTERDAY: (100.0, 9, True)}  # a whole-day total replaces the hours

    sender.signed("/v1/usage", {"usage": [summary(4, day=None, hour=hour, quantity=7.0)]})
    assert daily(db) == {YESTERDAY: (7.0, 1, True)}  # and an hourly total replaces the day's


def test_a_day_with_a_summary_is_the_summarys_total(sender: Sender, db: Engine) -> None:
    at = f"{YESTERDAY}T09:00:00+00:00"
    events = [
        {"id": f"e{n}", "account": "acme", "metric": "tokens", "timestamp": at, "quantity": 5}
        for n in range(3)
    ]
    sender.signed("/v1/events", {"events": events[:2]})
    assert daily(db) == {YESTERDAY: (10.0, 2, False)}

    sender.signed("/v1/usage", {"usage": [summary(0, quantity=400.0, events=40)]})
    assert daily(db) == {YESTERDAY: (400.0, 40, True)}

    sender.signed("/v1/events", {"events": events})  # one new raw event for that day
    assert daily(db) == {YESTERDAY: (400.0, 40, True)}
    assert counts(db)["events"] == 3  # the raw events are kept all the same


def test_every_error_is_listed_with_its_path_and_nothing_is_stored(
    sender: Sender, db: Engine
) -> None:
    tomorrow = (TODAY + timedelta(days=2)).isoformat()
    rows = [
        summary(0),
        {"id": "x", "account": "acme", "metric": "tokens", "quantity": 1},
        summary(2, quantity=-1, events=1.5, day="05/12/2026"),
        summary(3, day=tomorrow),
        summary(4, day=None, hour=f"{YESTERDAY}T10:30:00Z"),
        summary(5, hour=f"{YESTERDAY}T10:00:00Z", day=TODAY.isoformat()),
        summary(6, colour="blue"),
    ]

    response = sender.signed("/v1/usage", {"usage": rows})

    assert response.status_code == 422, response.text
    errors = [(e["index"], e["field"]) for e in response.json()["errors"]]
    assert errors == [
        (1, "day"),
        (2, "day"),
        (2, "quantity"),
        (2, "events"),
        (3, "day"),
        (4, "hour"),
        (5, "day"),
        (6, "colour"),
    ]
    assert "6 of 7 usage invalid; nothing was stored" in response.json()["message"]
    assert summaries_stored(db) == 0
    assert daily(db) == {}


def test_errors_are_capped_at_one_hundred(sender: Sender, db: Engine) -> None:
    rows = [summary(n, quantity=-1, events=-1) for n in range(80)]

    body = sender.signed("/v1/usage", {"usage": rows}).json()

    assert len(body["errors"]) == 100
    assert "the first 100 of 160 errors are listed" in body["message"]


def test_concurrent_senders_store_each_row_once(sender: Sender, db: Engine) -> None:
    days = [(TODAY - timedelta(days=n)).isoformat() for n in range(60)]
    payload = {"usage": [summary(n, day=d, events=2) for n, d in enumerate(days)]}
    barrier = threading.Barrier(6)
    accepted: list[int] = []

    def send() -> None:
        with Sender(str(sender.http.base_url), secret=sender.secret, token=sender.token) as own:
            barrier.wait()
            accepted.append(own.signed("/v1/usage", payload).json()["accepted"])

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(accepted) == [0, 0, 0, 0, 0, 60]
    assert summaries_stored(db) == 60
    assert sum(q for q, _, _ in daily(db).values()) == sum(1000.0 + n for n in range(60))


def test_totals_feed_the_health_score_as_raw_events_would(sender: Sender, db: Engine) -> None:
    """Two accounts with the same daily usage, one sent as totals and one as raw events,
    get the same /health; the totals are what the chart draws."""
    days = [TODAY - timedelta(days=n) for n in range(1, 61)]
    quantity = {d: 100.0 + 3 * i for i, d in enumerate(reversed(days))}
    raw = [
        {
            "id": f"raw_{d}",
            "account": "twin",
            "metric": "tokens",
            "timestamp": f"{d}T12:00:00Z",
            "quantity": quantity[d],
        }
        for d in days
    ]
    sums = [
        summary(i, day=d.isoformat(), quantity=quantity[d], events=1) for i, d in enumerate(days)
    ]
    sums.insert(0, summary(999, day=days[0].isoformat(), quantity=1.0, events=1))  # replaced
    assert sender.signed("/v1/events", {"events": raw}).status_code == 200
    assert sender.signed("/v1/usage", {"usage": sums}).status_code == 200

    acme, twin = health(db, "acme"), health(db, "twin")

    assert acme.title.startswith("acme: health ")
    assert acme.title.removeprefix("acme") == twin.title.removeprefix("twin")
    assert acme.chart is not None
    drawn = dict(zip(acme.chart.days, acme.chart.series[0].values, strict=True))
    assert {d: drawn[d] for d in days if d in drawn} == {d: quantity[d] for d in days if d in drawn}
    assert drawn[days[0]] == quantity[days[0]]


def health(db: Engine, account: str) -> Any:
    ctx = Context(engine=db, config=ScoringConfig.from_mapping({}), now=utc_now())
    return handle(CommandRequest("health", account, Person("U1", name="Casey")), ctx)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_readme_example_works_as_written(live: LiveServer, db: Engine) -> None:
    section = README.read_text().split("### `POST /v1/usage`", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README lost its /v1/usage example"
    script = match.group(1).replace("http://127.0.0.1:8000", live.url)

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"PATH": os.environ["PATH"], "TOKEN": TEST_TOKEN},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.stdout == '{"received":1,"accepted":1,"duplicates":0}', result.stderr
    assert daily(db) == {"2026-12-04": (1250000.0, 48210, True)}
