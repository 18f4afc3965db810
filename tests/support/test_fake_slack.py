"""The Slack fake works with the real slack_sdk clients; the signing helper matches Slack's."""

from __future__ import annotations

import asyncio
import re
import threading
import types
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

from tests.support.fakes.slack import FakeSlack
from tests.support.slack_signing import interaction_body, signed_headers, slash_command_body

TOKEN = "xoxb-test"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN) as slack:
        yield slack


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.base_url)


def test_auth_and_conversations_info(fake: FakeSlack, client: WebClient) -> None:
    assert client.auth_test()["team_id"] == "T0STEWARD"
    fake.add_channel("C1", name="acme-cs", ext_shared=True)
    fake.add_channel("D1", im_user="U9")

    channel = client.conversations_info(channel="C1")["channel"]
    assert (channel["name"], channel["is_ext_shared"], channel["is_im"]) == ("acme-cs", True, False)
    assert client.conversations_info(channel="D1")["channel"]["user"] == "U9"
    with pytest.raises(SlackApiError) as err:
        client.conversations_info(channel="C404")
    assert err.value.response["error"] == "channel_not_found"

    with pytest.raises(SlackApiError) as err:
        WebClient(token="xoxb-wrong", base_url=fake.base_url).auth_test()
    assert err.value.response["error"] == "invalid_auth"
    assert [c.method for c in fake.calls] == ["auth.test"] + ["conversations.info"] * 3 + [
        "auth.test"
    ]
    assert fake.calls[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_post_message_records_decoded_blocks(fake: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    first = client.chat_postMessage(channel="C1", text="hi", blocks=blocks)
    second = client.chat_postMessage(channel="C1", text="again", thread_ts=first["ts"])
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    (call, _) = fake.calls_to("chat.postMessage")
    assert call.params["blocks"] == blocks
    assert client.chat_update(channel="C1", ts=first["ts"], text="edited")["ts"] == first["ts"]


def test_files_upload_v2_stores_bytes(fake: FakeSlack, client: WebClient) -> None:
    content = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n\r\n"
    result = client.files_upload_v2(content=content, filename="c.png", title="t", channel="C1")
    file_id = result["file"]["id"]
    assert re.fullmatch(r"F[A-Z0-9]{8,}", file_id)
    assert result["file"]["mimetype"] == "image/png"
    upload = fake.uploads[file_id]
    assert (upload["bytes"], upload["filename"], upload["title"]) == (content, "c.png", "t")
    assert upload["channel_id"] == "C1"
    assert client.files_info(file=file_id)["file"]["channels"] == ["C1"]


def test_async_client_gets_and_uploads(fake: FakeSlack) -> None:
    fake.add_user("U2", team_id="T0OTHER", ultra_restricted=True)

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        client = AsyncWebClient(token=TOKEN, base_url=fake.base_url)
        user = await client.users_info(user="U2")  # a GET with a query string
        upload = await client.files_upload_v2(content=b"a\r\nb", filename="n.txt")
        return user["user"], upload["file"]

    user, file = asyncio.run(run())
    assert (user["team_id"], user["is_restricted"], user["is_ultra_restricted"]) == (
        "T0OTHER",
        True,
        True,
    )
    assert fake.calls_to("users.info")[0].http_method == "GET"
    assert fake.uploads[file["id"]]["bytes"] == b"a\r\nb"


def test_rate_limit_is_retried(
    fake: FakeSlack, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler sleeps Retry-After + random.random(); make the jitter zero.
    monkeypatch.setattr(builtin_handlers, "random", types.SimpleNamespace(random=lambda: 0.0))
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    fake.fail_next("chat.postMessage", status=429, retry_after=0)

    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    failed, ok = fake.calls_to("chat.postMessage")
    assert (failed.failed_with, ok.failed_with) == (429, None)
    assert failed.response == {"ok": False, "error": "ratelimited"}


def test_server_error_and_unknown_method(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("users.info", status=503)
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U1")
    assert err.value.response.status_code == 503
    assert err.value.response["error"] == "internal_error"
    with pytest.raises(SlackApiError) as err:
        client.api_call("reactions.add", params={"name": "x"})
    assert err.value.response["error"] == "unknown_method"
    assert fake.calls_to("reactions.add")[0].params == {"name": "x"}


def test_response_url_and_wait(fake: FakeSlack) -> None:
    url = fake.response_url("cmd")
    sent: list[WebhookResponse] = []
    thread = threading.Thread(
        target=lambda: sent.extend(
            WebhookClient(url).send(text=f"part {i}", response_type="ephemeral") for i in range(2)
        )
    )
    thread.start()
    got = fake.wait_for_responses("cmd", 2)
    thread.join()
    assert [r["text"] for r in got] == ["part 0", "part 1"]
    assert [(r.status_code, r.body) for r in sent] == [(200, "ok"), (200, "ok")]
    with pytest.raises(AssertionError, match="got 2"):
        fake.wait_for_responses("cmd", 3, timeout=0.01)


class _FrozenClock(Clock):
    def now(self) -> float:
        return 1_700_000_010.0


def test_signing_matches_slack_sdk_verifier() -> None:
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    body = slash_command_body("/steward", "health acme & co", response_url="http://x/r/1")
    headers = signed_headers(body, secret, timestamp=1_700_000_000)
    verifier = SignatureVerifier(secret, clock=_FrozenClock())
    assert verifier.is_valid_request(body, headers)
    assert verifier.is_valid_request(body.encode(), headers)
    assert not verifier.is_valid_request(body + "x", headers)
    assert SignatureVerifier(secret).is_valid_request(body, signed_headers(body, secret))

    form = parse_qs(body)
    assert form["command"] == ["/steward"]
    assert form["text"] == ["health acme & co"]
    assert form["response_url"] == ["http://x/r/1"]
    assert parse_qs(interaction_body({"type": "block_actions"}))["payload"] == [
        '{"type":"block_actions"}'
    ]


def test_conversations_members_pages_and_lists_steward(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user("U1", name="ann")
    fake.add_user("U2", name="bob", restricted=True)
    fake.add_channel("C1", members=["U1", "U2"])
    fake.add_group_dm("G1", ["U1", "U2"])
    first = client.conversations_members(channel="C1", limit=2)
    assert first["members"] == ["U1", "U2"]
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_members(channel="C1", limit=2, cursor=cursor)
    assert (second["members"], second["response_metadata"]["next_cursor"]) == (["UBOT"], "")
    assert client.conversations_info(channel="G1")["channel"]["is_mpim"] is True
    assert client.users_info(user="UBOT")["user"]["is_bot"] is True
    with pytest.raises(SlackApiError) as err:
        client.conversations_members(channel="C404")
    assert err.value.response["error"] == "channel_not_found"
