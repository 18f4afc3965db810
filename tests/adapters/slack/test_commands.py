"""Slack end to end: signed requests in over HTTP, answers out to a fake Slack on loopback."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.adapters.slack.manifest import METHOD_SCOPES
from core import metrics
from storage import tables
from tests.support.fakes.slack import FakeSlack
from tests.support.slack_world import (
    Book,
    SlackClient,
    buttons,
    seed_book,
    serve,
    slack_services,
    texts,
    valid_blocks,
)

PNG = b"\x89PNG\r\n\x1a\n"
LATENCY = "steward_command_duration_seconds_count"  # /metrics: one sample per answer
LATENCY = "steward_command_duration_seconds_count"  # /metrics: one sample per answer


@pytest.fixture(scope="module")
def book(engine: Engine) -> Book:
    return seed_book(engine)


@pytest.fixture
def slack(
    engine: Engine, database_url: str, book: Book, fake_slack: FakeSlack
) -> Iterator[SlackClient]:
    with engine.begin() as conn:
        conn.execute(tables.pending_replies.delete())
        conn.execute(tables.alert_snoozes.delete())
    server, client = serve(slack_services(engine, database_url, fake_slack), fake_slack)
    with server:
        yield client
    called = {c.method for c in fake_slack.calls if c.method}
    assert called <= set(METHOD_SCOPES), "a Web API method the manifest grants no scope for"


def test_health_is_acknowledged_at_once_then_answered_privately_with_its_chart(
    slack: SlackClient, book: Book
) -> None:
    answered = metrics.REGISTRY.get_sample_value(LATENCY, {"platform": "slack"}) or 0.0
    started = time.perf_counter()
    ack = slack.command("/health", "zorblax corp", "r1")
    assert ack.status_code == 200
    assert time.perf_counter() - started < 3.0
    assert ack.text == ""  # nothing shown in the channel

    first, second = slack.fake.wait_for_responses("r1", 2)
    assert first["response_type"] == "ephemeral"
    valid_blocks(first)
    shown = texts(first)
    assert "Zorblax Corp: health" in shown
    for label in ("Health", "Tier", "Churn risk", "Why"):
        assert label in shown
    assert set(buttons(first)) == {"Details", "Share to channel", "Snooze alerts 7 days"}

    assert second["replace_original"] is True
    image = [b for b in valid_blocks(second) if b["type"] == "image"]
    assert len(image) == 1
    file_id = image[0]["slack_file"]["id"]
    upload = slack.fake.uploads[file_id]
    assert upload["bytes"].startswith(PNG)
    assert upload["channel_id"].startswith("D")  # the asker's DM with Steward, not the channel
    assert metrics.REGISTRY.get_sample_value(LATENCY, {"platform": "slack"}) == answered + 1


def test_a_persons_direct_message_is_opened_once_not_for_every_chart(slack: SlackClient) -> None:
    # conversations.open is rate-limited (a command a second would hit it): a CSM
    # asking all morning gets their DM opened once.
    for n in range(3):
        slack.command("/health", "zorblax corp", f"dm{n}")
        slack.fake.wait_for_responses(f"dm{n}", 2)  # the answer, then it with its chart
    opened = [c.params["users"] for c in slack.fake.calls_to("conversations.open")]
    assert opened == ["U123"]
    assert len({u["channel_id"] for u in slack.fake.uploads.values()}) == 1


def test_unsigned_forged_and_replayed_requests_are_refused(
    slack: SlackClient, engine: Engine
) -> None:
    from tests.support.slack_signing import slash_command_body

    body = slash_command_body("/health", "acme", response_url=slack.fake.response_url("x"))
    import httpx

    unsigned = httpx.post(
        f"{slack.url}/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    forged = slack.post(body, secret="not-the-signing-secret-at-all-00")
    replayed = slack.post(body, timestamp=int(time.time()) - 6 * 60)
    assert [r.status_code for r in (unsigned, forged, replayed)] == [401, 401, 401]
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(tables.pending_replies)) == 0
    assert slack.fake.responses.get("x") is None


def test_an_ambiguous_name_offers_a_choice_and_the_choice_answers(
    slack: SlackClient,
) -> None:
    assert slack.command("/health", "zorblax", "amb").status_code == 200
    (choice,) = slack.fake.wait_for_responses("amb", 1)
    valid_blocks(choice)
    offered = buttons(choice)
    assert {"Zorblax Corp", "Zorblax Labs"} <= set(offered)

    assert slack.click(offered["Zorblax Labs"], "pick").status_code == 200
    answer = slack.fake.wait_for_responses("pick", 1)[0]
    assert answer["replace_original"] is True
    assert "Zorblax Labs: health" in texts(answer)


def test_an_unknown_name_says_so_and_suggests_the_closest(slack: SlackClient) -> None:
    slack.command("/health", "quibbel", "typo")
    slack.command("/health", "qqqqzzzz", "none")
    (typo,) = slack.fake.wait_for_responses("typo", 1)
    (none,) = slack.fake.wait_for_responses("none", 1)
    assert "Quibble Inc: health" in texts(typo)  # a near miss still finds it
    assert "No account matches" in texts(none)
    assert "Closest names" in texts(none)


def test_value_and_forecast_answer_in_business_terms(slack: SlackClient) -> None:
    slack.command("/value", "zorblax corp 30d", "value")
    slack.command("/forecast", "quibble", "forecast")
    value = slack.fake.wait_for_responses("value", 1)[0]
    valid_blocks(value)
    assert "Zorblax Corp: value realized, last 30 days" in texts(value)
    assert "Spend" in texts(value)
    assert "Peers" in texts(value)
    forecast = slack.fake.wait_for_responses("forecast", 1)[0]
    valid_blocks(forecast)
    assert "Quibble Inc" in texts(forecast)
    assert re.search(r"commit|No contract", texts(forecast))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("help", "/steward risks"),
        ("", "/health <account>"),
        ("book", "Book of Casey"),
        ("risks", "Most likely to churn"),
        ("expansions", "Most likely to expand"),
        ("tier zorblax corp", "Zorblax Corp:"),
        ("digest", "Digest preview"),
        ("frobnicate", "does not know /steward frobnicate"),
    ],
)
def test_steward_subcommands(slack: SlackClient, text: str, expected: str) -> None:
    slack.command("/steward", text, "sub")
    (answer,) = slack.fake.wait_for_responses("sub", 1)
    valid_blocks(answer)
    assert expected in texts(answer)


def test_book_of_someone_else_by_mention(slack: SlackClient) -> None:
    slack.fake.add_user("U777", name="dana", email="someone@example.com")
    slack.command("/steward", "book <@U777|dana>", "book")
    (answer,) = slack.fake.wait_for_responses("book", 1)
    assert "Quibble Inc" in texts(answer)
    assert "Zorblax Corp" not in texts(answer)
    for band in ("At risk", "Watch", "Healthy"):  # every band counted, none left out
        assert band in texts(answer)


def test_share_posts_to_the_channel_with_the_chart_and_removes_the_private_copy(
    slack: SlackClient,
) -> None:
    slack.command("/health", "quibble", "h")
    first, _ = slack.fake.wait_for_responses("h", 2)
    slack.click(buttons(first)["Share to channel"], "share")
    shared, delete = slack.fake.wait_for_responses("share", 2)
    assert shared["response_type"] == "in_channel"
    assert "Shared by casey" in texts(shared)
    assert "Share to channel" not in buttons(shared)
    image = [b for b in valid_blocks(shared) if b["type"] == "image"]
    assert slack.fake.uploads[image[0]["slack_file"]["id"]]["channel_id"] == "C123"
    assert delete == {"delete_original": True}


def test_snooze_is_stored_with_who_and_until_when(
    slack: SlackClient, engine: Engine, book: Book
) -> None:
    slack.command("/health", "zorblax corp", "h")
    first, _ = slack.fake.wait_for_responses("h", 2)
    slack.click(buttons(first)["Snooze alerts 7 days"], "snooze")
    (answer,) = slack.fake.wait_for_responses("snooze", 1)
    assert "snoozed for 7 days" in texts(answer)
    with engine.connect() as conn:
        row = conn.execute(sa.select(tables.alert_snoozes)).one()
    assert (row.account_id, row.snoozed_by, row.platform) == (book.ids["acme"], "U123", "slack")


def test_details_explain_every_component(slack: SlackClient) -> None:
    slack.command("/health", "zorblax corp", "h")
    first, _ = slack.fake.wait_for_responses("h", 2)
    slack.click(buttons(first)["Details"], "details")
    (details,) = slack.fake.wait_for_responses("details", 1)
    valid_blocks(details)
    for label in ("Usage trend", "Recent activity", "Standing among peers", "weight"):
        assert label in texts(details)


def test_a_rate_limited_response_url_is_retried_after_retry_after(slack: SlackClient) -> None:
    slack.fake.fail_next("rl", status=429, retry_after=0)
    slack.command("/steward", "help", "rl")
    (answer,) = slack.fake.wait_for_responses("rl", 1)
    assert "Steward commands" in texts(answer)
    tries = [c for c in slack.fake.response_calls if c.path.endswith("/rl")]
    assert [c.failed_with for c in tries] == [429, None]


def test_a_chart_slack_refuses_leaves_the_answer_and_says_where_the_chart_is(
    slack: SlackClient,
) -> None:
    slack.fake.refuse_slack_files = 3  # every try: the file is never ready
    slack.command("/health", "zorblax corp", "refuse")
    answer, note = slack.fake.wait_for_responses("refuse", 2, timeout=15)
    assert "Zorblax Corp: health" in texts(answer)
    assert note["replace_original"] is True
    assert "Chart: in your direct messages with Steward" in texts(note)
    refused = [c for c in slack.fake.response_calls if c.failed_with == 400]
    assert len(refused) == 3
