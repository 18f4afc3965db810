"""Subscriptions set from Slack: the grammar, the table, which accounts a scope covers, and
``/steward subscribe|unsubscribe|subscriptions`` end to end over HTTP against the fake Slack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from core.messages import Card
from handlers.chat.commands import handle, help_lines
from handlers.chat.context import CommandRequest, Context, Person
from handlers.chat.subscription_grammar import (
    SUBSCRIBE_USAGE,
    UNSUBSCRIBE_USAGE,
    SubscribeSpec,
    SubscriptionError,
    parse_clock,
    parse_subscribe,
)
from signals.config import ScoringConfig
from storage import tables
from storage.subscriptions import (
    Sub,
    get_subscription,
    list_subscriptions,
    remove_subscriptions,
    upsert_subscription,
)
from tests.support.fakes.slack import FakeSlack
from tests.support.slack_world import Book, SlackClient, seed_book, serve, slack_services, texts

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # a Friday


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("digest", SubscribeSpec("digest")),
        ("Digests", SubscribeSpec("digest")),
        ("alert", SubscribeSpec("alerts")),
        ("manager all", SubscribeSpec("manager", scope="all")),
        ("digest my book", SubscribeSpec("digest", scope="book")),
        ("alerts MY BOOK", SubscribeSpec("alerts", scope="book")),
        ("digest segment enterprise", SubscribeSpec("digest", "segment", "enterprise")),
        (
            "digest segment Mid Market at 9",
            SubscribeSpec("digest", "segment", "Mid Market", "09:00"),
        ),
        ("manager tier Strategic", SubscribeSpec("manager", "tier", "strategic")),
        ("digest at 08:30", SubscribeSpec("digest", at_time="08:30")),
        ("digest at 7:05", SubscribeSpec("digest", at_time="07:05")),
        ("digest at 0915", SubscribeSpec("digest", at_time="09:15")),
        ("digest at 6pm", SubscribeSpec("digest", at_time="18:00")),
        ("digest at 12am", SubscribeSpec("digest", at_time="00:00")),
        ("digest at 12:30pm", SubscribeSpec("digest", at_time="12:30")),
        ("digest tz Europe/Paris", SubscribeSpec("digest", timezone="Europe/Paris")),
        ("digest timezone europe/paris", SubscribeSpec("digest", timezone="Europe/Paris")),
        ("digest tz utc", SubscribeSpec("digest", timezone="UTC")),
        ("digest weekdays", SubscribeSpec("digest", weekdays_only=True)),
        ("alerts quiet 20:00-08:00", SubscribeSpec("alerts", quiet=("20:00", "08:00"))),
        ("alerts quiet 22:00 - 7:00", SubscribeSpec("alerts", quiet=("22:00", "07:00"))),
        ("alerts quiet 12:00–13:30", SubscribeSpec("alerts", quiet=("12:00", "13:30"))),
        (
            "manager weekdays tz America/New_York at 17:45 segment smb",
            SubscribeSpec("manager", "segment", "smb", "17:45", "America/New_York", True),
        ),
        (
            "alerts tier digital tz Asia/Tokyo quiet 19:00-09:00",
            SubscribeSpec(
                "alerts", "tier", "digital", timezone="Asia/Tokyo", quiet=("19:00", "09:00")
            ),
        ),
    ],
)
def test_what_people_type_parses(typed: str, expected: SubscribeSpec) -> None:
    assert parse_subscribe(typed) == expected


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Say what to subscribe to: digest, alerts or manager."),
        ("   ", "Say what to subscribe to"),
        ("my book", "Say what to subscribe to first"),
        ("at 08:30", "Say what to subscribe to first"),
        ("newsletter", "no subscription called “newsletter”"),
        ("digest tz Mars/Olympus", "“Mars/Olympus” is not a time zone Steward knows"),
        ("digest tz Europe/Pariss", "did you mean Europe/Paris"),
        ("digest tz America/New_Yrok", "did you mean America/New_York?"),
        ("digest tz Paris", "did you mean Europe/Paris?"),
        ("digest at 25:00", "“25:00” is not a time of day"),
        ("digest at 8:60", "is not a time of day"),
        ("digest at 13pm", "is not a time of day"),
        ("digest at noonish", "is not a time of day"),
        ("digest at", "Give a time after “at”"),
        ("digest at tz UTC", "Give a time after “at”"),
        ("digest tz", "Give a time zone after “tz”"),
        (
            "digest tier gold",
            "There is no tier “gold”: the tiers are digital, scaled and strategic.",
        ),
        ("digest tier", "Give a tier after “tier”"),
        ("digest segment", "Name a segment after “segment”"),
        ("digest segment at 9", "Name a segment"),
        ("digest my", "Write “my book”"),
        ("digest all my book", "Give one scope only"),
        ("digest tier scaled segment smb", "Give one scope only"),
        ("digest at 8 at 9", "“at” is given twice"),
        ("digest weekdays weekdays", "“weekdays” is given twice"),
        ("digest every monday", "does not understand “every”"),
        ("alerts at 08:30", "Alerts post as they happen"),
        ("alerts weekdays", "“weekdays” sets the days a digest posts"),
        ("digest quiet 20:00-08:00", "Quiet hours hold alerts only"),
        ("manager quiet 20:00-08:00", "Quiet hours hold alerts only"),
        ("alerts quiet 20:00", "is not quiet hours"),
        ("alerts quiet 20:00-", "is not quiet hours"),
        ("alerts quiet 9-09:00", "must start and end at different times"),
        ("alerts quiet 20:00-26:00", "“26:00” is not a time of day"),
    ],
)
def test_what_cannot_be_a_subscription_says_why(typed: str, says: str) -> None:
    with pytest.raises(SubscriptionError) as caught:
        parse_subscribe(typed)
    assert says in caught.value.message
    assert caught.value.usage == SUBSCRIBE_USAGE
    assert caught.value.message.endswith((".", "?"))


@pytest.mark.parametrize(
    ("typed", "clock"),
    [("0", "00:00"), ("9", "09:00"), ("23:59", "23:59"), ("1am", "01:00"), ("11:15PM", "23:15")],
)
def test_clock_times(typed: str, clock: str) -> None:
    assert parse_clock(typed) == clock


def sub(**overrides: Any) -> Sub:
    fields: dict[str, Any] = {
        "id": 1,
        "platform": "slack",
        "channel": "C1",
        "kind": "digest",
        "scope": "all",
        "scope_value": None,
        "owner_handles": (),
        "at_time": "08:30",
        "timezone": "UTC",
        "weekdays_only": False,
        "quiet_start": None,
        "quiet_end": None,
        "created_by": "U1",
        "created_at": T0,
        "updated_at": T0,
    }
    return Sub(**(fields | overrides))


ACCOUNT = {"csm": "Casey@Example.com", "ae": None, "segment": "Mid-Market", "tier": "scaled"}


@pytest.mark.parametrize(
    ("scope", "value", "handles", "account", "covered"),
    [
        ("all", None, (), ACCOUNT, True),
        ("all", None, (), {"csm": None, "ae": None, "segment": None, "tier": None}, True),
        ("book", "U1", ("U1", "casey@example.com", "Casey"), ACCOUNT, True),
        ("book", "U1", ("U1", "Casey"), ACCOUNT | {"csm": "casey", "ae": None}, True),
        ("book", "U1", ("U1", "Dana"), ACCOUNT | {"csm": "casey", "ae": "DANA"}, True),
        ("book", "U1", ("U1", "Dana"), ACCOUNT, False),
        ("book", "U1", ("U1",), ACCOUNT | {"csm": None, "ae": None}, False),
        ("segment", "mid-market", (), ACCOUNT, True),
        ("segment", "smb", (), ACCOUNT, False),
        ("segment", "smb", (), ACCOUNT | {"segment": None}, False),
        ("tier", "scaled", (), ACCOUNT, True),
        ("tier", "strategic", (), ACCOUNT, False),
        ("tier", "scaled", (), ACCOUNT | {"tier": None}, False),
    ],
)
def test_covers(
    scope: str,
    value: str | None,
    handles: tuple[str, ...],
    account: dict[str, Any],
    covered: bool,
) -> None:
    subscription = sub(scope=scope, scope_value=value, owner_handles=handles)
    assert subscription.covers(**account) is covered


@pytest.fixture
def empty(engine: Engine) -> Engine:
    """The session's database with no subscriptions (the rest left for the seeded book)."""
    with engine.begin() as conn:
        conn.execute(tables.subscriptions.delete())
    return engine


def test_a_subscription_round_trips_and_subscribing_again_updates_it(empty: Engine) -> None:
    with empty.begin() as conn:
        first, before = upsert_subscription(
            conn,
            platform="slack",
            channel="C1",
            kind="alerts",
            created_by="U1",
            now=T0,
            scope="book",
            scope_value="U1",
            owner_handles=("U1", "casey@example.com", "Casey"),
            timezone="Europe/Paris",
            quiet_start="20:00",
            quiet_end="08:00",
        )
    assert before is None
    assert (first.scope, first.scope_value, first.owner_handles) == (
        "book",
        "U1",
        ("U1", "casey@example.com", "Casey"),
    )
    assert (first.at_time, first.timezone, first.weekdays_only) == ("08:30", "Europe/Paris", False)
    assert (first.quiet_start, first.quiet_end, first.created_at) == ("20:00", "08:00", T0)

    later = T0 + timedelta(hours=1)
    with empty.begin() as conn:
        second, previous = upsert_subscription(
            conn,
            platform="slack",
            channel="C1",
            kind="alerts",
            created_by="U2",
            now=later,
            scope="tier",
            scope_value="strategic",
        )
    assert previous == first
    assert second.id == first.id
    assert (second.scope, second.scope_value, second.owner_handles) == ("tier", "strategic", ())
    assert (second.quiet_start, second.timezone) == (None, "UTC")
    assert (second.created_by, second.created_at, second.updated_at) == ("U1", T0, later)
    with empty.connect() as conn:
        assert get_subscription(conn, platform="slack", channel="C1", kind="alerts") == second
        assert list_subscriptions(conn) == [second]


def test_list_filters_and_remove_by_kind_or_all(empty: Engine) -> None:
    with empty.begin() as conn:
        for platform, channel, kind in [
            ("slack", "C1", "digest"),
            ("slack", "C1", "alerts"),
            ("slack", "C2", "digest"),
            ("teams", "C1", "digest"),
        ]:
            upsert_subscription(
                conn, platform=platform, channel=channel, kind=kind, created_by="U1", now=T0
            )
    with empty.connect() as conn:
        assert len(list_subscriptions(conn)) == 4
        assert [(s.channel, s.kind) for s in list_subscriptions(conn, platform="slack")] == [
            ("C1", "alerts"),
            ("C1", "digest"),
            ("C2", "digest"),
        ]
        digests = list_subscriptions(conn, kind="digest", channel="C1")
        assert [s.platform for s in digests] == ["slack", "teams"]
        assert get_subscription(conn, platform="slack", channel="C9", kind="digest") is None
    with empty.begin() as conn:
        assert remove_subscriptions(conn, platform="slack", channel="C1", kind="alerts") == 1
        assert remove_subscriptions(conn, platform="slack", channel="C1", kind="alerts") == 0
        assert remove_subscriptions(conn, platform="slack", channel="C2") == 1
    with empty.connect() as conn:
        left = [(s.platform, s.channel, s.kind) for s in list_subscriptions(conn)]
    assert left == [("slack", "C1", "digest"), ("teams", "C1", "digest")]


def test_storage_refuses_an_unknown_kind_or_a_scope_without_its_value(empty: Engine) -> None:
    with empty.begin() as conn, pytest.raises(ValueError, match="kind"):
        upsert_subscription(
            conn, platform="slack", channel="C1", kind="weekly", created_by="U1", now=T0
        )
    with empty.begin() as conn, pytest.raises(ValueError, match="needs a value"):
        upsert_subscription(
            conn,
            platform="slack",
            channel="C1",
            kind="digest",
            created_by="U1",
            now=T0,
            scope="segment",
        )


CASEY = Person("U123", email="casey@example.com", name="Casey", tz="Europe/Paris")


def ask(engine: Engine, text: str, *, channel: str = "C1", may_share: bool = True) -> Card:
    ctx = Context(engine=engine, config=ScoringConfig.from_mapping({}), now=T0, may_share=may_share)
    request = CommandRequest(
        "steward", text, CASEY, channel=channel, platform="slack" if channel else ""
    )
    return handle(request, ctx)


def test_without_a_conversation_or_where_steward_cannot_see_nothing_is_stored(
    empty: Engine,
) -> None:
    nowhere = ask(empty, "subscribe digest", channel="")
    assert nowhere.title == "Subscription not changed"
    assert "type the command in the channel" in nowhere.summary
    unseen = ask(empty, "subscribe digest", may_share=False)
    assert "invite Steward to the channel first" in unseen.summary
    assert ask(empty, "unsubscribe", channel="").title == "Subscription not changed"
    assert (
        "Subscriptions belong to a conversation" in ask(empty, "subscriptions", channel="").summary
    )
    with empty.connect() as conn:
        assert list_subscriptions(conn) == []


def test_help_lists_the_subscription_commands() -> None:
    joined = "\n".join(help_lines())
    for usage in (SUBSCRIBE_USAGE, UNSUBSCRIBE_USAGE, "/steward subscriptions"):
        assert usage in joined
    assert "direct message with Steward" in joined


@pytest.fixture(scope="module")
def book(engine: Engine) -> Book:
    return seed_book(engine)


@pytest.fixture
def slack(
    engine: Engine, database_url: str, book: Book, fake_slack: FakeSlack
) -> Iterator[SlackClient]:
    with engine.begin() as conn:
        conn.execute(tables.pending_replies.delete())
        conn.execute(tables.subscriptions.delete())
    fake_slack.add_user("U200", name="dana", email="dana@example.com", tz="Europe/Paris")
    fake_slack.add_user("U300", name="lee", tz=None)
    fake_slack.add_channel("C999", name="renewals")
    fake_slack.add_channel("D0CASEY", im_user="U123")
    server, client = serve(slack_services(engine, database_url, fake_slack), fake_slack)
    with server:
        yield client


def answer(slack: SlackClient, text: str, name: str, **kw: Any) -> str:
    """Type ``/steward <text>`` in Slack; what the (single, ephemeral) answer says."""
    assert slack.command("/steward", text, name, **kw).status_code == 200
    (reply,) = slack.fake.wait_for_responses(name, 1)
    assert reply["response_type"] == "ephemeral"
    return texts(reply)


def stored(engine: Engine) -> list[Sub]:
    with engine.connect() as conn:
        return list_subscriptions(conn)


def test_subscribe_from_a_channel_stores_it_and_says_where_and_when(
    slack: SlackClient, engine: Engine
) -> None:
    said = answer(slack, "subscribe digest segment Enterprise at 9:15 weekdays", "s1")
    (row,) = stored(engine)
    assert (row.platform, row.channel, row.kind, row.created_by) == (
        "slack",
        "C123",
        "digest",
        "U123",
    )
    assert (row.scope, row.scope_value, row.owner_handles) == ("segment", "enterprise", ())
    assert (row.at_time, row.weekdays_only) == ("09:15", True)
    assert row.timezone == "America/New_York"  # the fake Slack user's tz
    assert (row.quiet_start, row.quiet_end) == (None, None)
    assert "Subscribed: daily digest" in said
    assert "this channel" in said
    assert "C123" not in said  # ids mean nothing to the reader
    assert "on weekdays at 09:15" in said
    assert "America/New_York" in said


def test_my_book_stores_the_users_handles_and_defaults_to_their_time_zone(
    slack: SlackClient, engine: Engine
) -> None:
    said = answer(slack, "subscribe alerts my book quiet 20:00-08:00", "mine", user_id="U200")
    (row,) = stored(engine)
    assert (row.kind, row.scope, row.scope_value) == ("alerts", "book", "U200")
    assert row.owner_handles == ("U200", "dana@example.com", "Dana")
    assert (row.timezone, row.quiet_start, row.quiet_end) == ("Europe/Paris", "20:00", "08:00")
    assert "alerts for the book of Dana as they happen" in said
    assert "held during quiet hours from 20:00 to 08:00" in said

    answer(slack, "subscribe digest", "utc", user_id="U300")  # Slack has no tz for this user
    by_kind = {s.kind: s for s in stored(engine)}
    assert (by_kind["digest"].timezone, by_kind["digest"].scope) == ("UTC", "all")
    assert by_kind["digest"].at_time == "08:30"


def test_subscribing_again_updates_the_one_row_and_says_what_changed(
    slack: SlackClient, engine: Engine
) -> None:
    answer(slack, "subscribe manager tier strategic at 08:00", "first")
    (first,) = stored(engine)
    said = answer(slack, "subscribe manager at 17:30 tz Europe/Paris weekdays", "again")
    (second,) = stored(engine)
    assert second.id == first.id
    assert (second.scope, second.scope_value) == ("all", None)  # what was typed, defaults else
    assert (second.at_time, second.timezone, second.weekdays_only) == (
        "17:30",
        "Europe/Paris",
        True,
    )
    assert "Subscription updated: manager digest" in said
    assert "Accounts: the accounts in the strategic tier → every account" in said
    assert "When: every day at 08:00 → on weekdays at 17:30" in said
    assert "Time zone: America/New_York → Europe/Paris" in said

    same = answer(slack, "subscribe manager at 17:30 tz europe/paris weekdays", "same")
    assert "Already subscribed: manager digest" in same
    assert "Nothing changed" in same


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("subscribe", "Say what to subscribe to: digest, alerts or manager."),
        ("subscribe digest tz Mars/Olympus", "“Mars/Olympus” is not a time zone Steward knows"),
        ("subscribe digest tz Europe/Pariss", "did you mean Europe/Paris?"),
        ("subscribe digest at 24:30", "“24:30” is not a time of day"),
        ("subscribe digest tier platinum", "There is no tier “platinum”"),
        (
            "subscribe digest segment galactic",
            "No account is in the segment “galactic”: the segments are enterprise, "
            "mid-market and smb.",
        ),
        ("unsubscribe newsletter", "no subscription called “newsletter”"),
    ],
)
def test_bad_subscriptions_say_why_with_the_usage_and_store_nothing(
    slack: SlackClient, engine: Engine, typed: str, says: str
) -> None:
    said = answer(slack, typed, "bad")
    assert "Subscription not changed" in said
    assert says in said
    usage = UNSUBSCRIBE_USAGE if typed.startswith("unsubscribe") else SUBSCRIBE_USAGE
    assert usage in said
    assert stored(engine) == []


def test_a_segment_is_matched_loosely_and_stored_as_the_accounts_spell_it(
    slack: SlackClient, engine: Engine
) -> None:
    said = answer(slack, "subscribe digest segment Mid Market", "loose")
    assert [(s.scope, s.scope_value) for s in stored(engine)] == [("segment", "mid-market")]
    assert "the accounts in the segment mid-market" in said


def test_a_direct_message_subscribes_only_my_book_and_posts_there(
    slack: SlackClient, engine: Engine
) -> None:
    said = answer(slack, "subscribe digest at 7:00", "dm", channel_id="D0CASEY")
    (row,) = stored(engine)
    assert (row.channel, row.kind, row.scope, row.scope_value) == (
        "D0CASEY",
        "digest",
        "book",
        "U123",
    )
    assert "your direct message with Steward" in said
    for typed in ("subscribe manager", "subscribe alerts segment smb", "subscribe digest all"):
        refused = answer(slack, typed, f"no-{typed.split()[-1]}", channel_id="D0CASEY")
        assert "only to digest my book or alerts my book" in refused
    assert len(stored(engine)) == 1


def test_list_then_unsubscribe_one_kind_then_all(slack: SlackClient, engine: Engine) -> None:
    answer(slack, "subscribe digest", "a")
    answer(slack, "subscribe alerts tier scaled", "b")
    answer(slack, "subscribe digest", "c", channel_id="C999")

    listed = answer(slack, "subscriptions", "list")
    assert "this channel has 2 subscriptions" in listed.replace("This", "this")
    assert "Daily digest: the daily digest of every account every day at 08:30" in listed
    assert "Alerts: alerts for the accounts in the scaled tier as they happen" in listed
    assert "Elsewhere: 1 subscription in 1 other conversation." in listed

    one = answer(slack, "unsubscribe alerts", "u1")
    assert "no longer gets the alerts" in one
    assert [(s.channel, s.kind) for s in stored(engine)] == [("C123", "digest"), ("C999", "digest")]

    answer(slack, "subscribe manager", "d")
    every = answer(slack, "unsubscribe", "u2")
    assert "no longer gets the daily digest and manager digest" in every
    assert [(s.channel, s.kind) for s in stored(engine)] == [("C999", "digest")]

    nothing = answer(slack, "unsubscribe", "u3")
    assert "Nothing to unsubscribe" in nothing
    empty_list = answer(slack, "subscriptions", "list2")
    assert "No subscriptions here" in empty_list
    assert "Elsewhere: 1 subscription in 1 other conversation." in empty_list


def test_a_digest_answer_gives_the_next_local_posting_time(empty: Engine) -> None:
    card = ask(empty, "subscribe digest weekdays")  # on Friday 10:00 in Paris, Casey's tz
    facts = {f.label: f.value for s in card.sections for f in s.facts}
    assert facts["Posts to"] == "this channel"
    assert facts["When"] == "on weekdays at 08:30"
    assert facts["Time zone"] == "Europe/Paris (UTC+01:00 now)"
    assert facts["Next"] == "Mon 23 Nov 08:30 Europe/Paris (07:30 UTC)"
    assert card.summary == (
        "This channel gets the daily digest of every account on weekdays at 08:30 "
        "Europe/Paris time."
    )


def test_teams_subscription_cards_name_places_and_people_not_their_ids(empty: Engine) -> None:
    """A Teams channel's id (19:...@thread.tacv2) and a person's (29:..., an Entra object
    id) mean nothing to the reader: the cards say "this channel" and leave ids out."""
    ctx = Context(engine=empty, config=ScoringConfig.from_mapping({}), now=T0)
    person = Person("29:1AbCdEf", email=None, name="", tz="Europe/Paris")
    channel = "19:cs-team@thread.tacv2"

    def say(text: str) -> str:
        card = handle(
            CommandRequest("steward", text, person, channel=channel, platform="teams"), ctx
        )
        return " ".join(
            [card.title, card.summary, card.footer or ""]
            + [s.text for s in card.sections]
            + [i for s in card.sections for i in s.items]
            + [f"{f.label} {f.value}" for s in card.sections for f in s.facts]
        )

    shown = say("subscribe digest my book at 9:00") + say("subscriptions")
    assert "this channel" in shown
    assert "19:cs-team" not in shown
    assert "29:1AbCdEf" not in shown
    assert "Stop it with unsubscribe digest" in shown  # as Teams takes it: no slash


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("subscribe digest at 25:00", "“25:00” is not a time of day"),
        ("subscribe digest tz Mars/Olympus", "“Mars/Olympus” is not a time zone Steward knows"),
        ("subscribe newsletter", "no subscription called “newsletter”"),
    ],
)
def test_an_error_card_shows_its_reason_on_slack_teams_and_the_console(
    empty: Engine, typed: str, reason: str
) -> None:
    import json

    from bot.adapters.console.render import to_text
    from bot.adapters.slack.render import to_message
    from bot.adapters.teams.render import to_card

    card = ask(empty, typed)
    assert card.title == "Subscription not changed"
    # Slack and Teams draw a card's body, not its notification text: the reason is there
    blocks = json.dumps(to_message(card)["blocks"], ensure_ascii=False)
    assert reason in blocks
    teams = to_card(card)
    assert reason in json.dumps(teams["body"], ensure_ascii=False)
    assert reason in to_text(card)
    assert "How to type it" in blocks
