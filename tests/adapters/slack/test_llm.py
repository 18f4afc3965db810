"""Slack end to end with an LLM: signed /value and /steward ask over HTTP, the model on loopback.

The model is called only after Slack's ack: the fake model holds its answer until the
test has the ack in hand.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from storage import tables
from tests.support.fakes.openai import FakeOpenAI, Reply, Request, slow, text, tool_calls
from tests.support.fakes.slack import FakeSlack
from tests.support.llm import KEY, VALUE_FACTORS, narrative_from
from tests.support.slack_world import (
    Book,
    SlackClient,
    seed_book,
    serve,
    slack_services,
    texts,
    valid_blocks,
)


@pytest.fixture(scope="module")
def book(engine: Engine) -> Book:
    return seed_book(engine)


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def slack(
    engine: Engine, database_url: str, book: Book, fake_slack: FakeSlack, model: FakeOpenAI
) -> Iterator[SlackClient]:
    with engine.begin() as conn:
        conn.execute(tables.pending_replies.delete())
    services = slack_services(
        engine,
        database_url,
        fake_slack,
        openai_api_key=KEY,
        openai_base_url=model.base_url,
        llm_model="fake-model",
        llm_timeout=10,
        llm_retries=0,
        scoring={"value_factors": VALUE_FACTORS},
    )
    server, client = serve(services, fake_slack)
    with server:
        yield client


def test_value_carries_a_narrative_written_after_the_ack(
    slack: SlackClient, model: FakeOpenAI
) -> None:
    def held(request: Request) -> Reply:
        return slow(narrative_from(request))

    model.responder = held
    started = time.perf_counter()
    ack = slack.command("/value", "zorblax corp 90d", "v")
    assert ack.status_code == 200
    assert time.perf_counter() - started < 3.0
    assert ack.text == ""
    model.wait_for_requests(1)  # the model was asked, and has not answered yet
    assert slack.fake.responses.get("v") is None
    model.release()

    (answer,) = slack.fake.wait_for_responses("v", 1)
    valid_blocks(answer)
    shown = texts(answer)
    assert "Zorblax Corp: value realized, last 90 days" in shown
    assert "Over the last 90 days, Zorblax Corp spent $" in shown
    assert "written by fake-model" in shown
    figures = model.requests[0].user_data()
    assert figures["account"] == "Zorblax Corp"
    assert figures["days"] == 90


def test_value_answers_from_the_template_when_the_model_fails(
    slack: SlackClient, model: FakeOpenAI
) -> None:
    from tests.support.fakes.openai import error

    model.script(error(500))
    slack.command("/value", "zorblax corp", "v")
    (answer,) = slack.fake.wait_for_responses("v", 1)
    shown = texts(answer)
    assert "Zorblax Corp: value realized" in shown
    assert "Narrative unavailable: the LLM answered 500." in shown


def test_steward_ask_answers_from_the_tools(slack: SlackClient, model: FakeOpenAI) -> None:
    def respond(request: Request) -> Reply:
        results = request.tool_results()
        if not results:
            return tool_calls(("list_risks", {"limit": 2}))
        top = results[0]["accounts"][0]
        return text(f"{top['name']} is the likeliest to churn, at {top['churn_risk']:.0%}.")

    model.responder = respond
    slack.command("/steward", "ask who is most likely to churn?", "ask")
    (answer,) = slack.fake.wait_for_responses("ask", 1)
    valid_blocks(answer)
    shown = texts(answer)
    assert "Ask: who is most likely to churn?" in shown
    assert "is the likeliest to churn, at" in shown
    assert "Accounts looked at" in shown
    assert len(model.requests) == 2
