"""Bot Framework authentication against a fake Bot Framework on loopback.

Inbound: ``BotFrameworkAuth`` accepts only RS256 tokens signed by a published key, for our
app, from the Bot Framework, in their validity window, endorsed for the channel and bound
to the activity's service URL; metadata and keys are cached and refetched on rotation.
Outbound: ``ConnectorTokens`` gets and caches the app's token; the fake Bot Connector
speaks what the Agents SDK's ``ConnectorClient`` sends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import httpx
import jwt
import pytest
from microsoft_agents.activity import Activity, ChannelAccount, ConversationParameters
from microsoft_agents.hosting.core.connector.client import ConnectorClient

from bot.adapters.teams.auth import (
    BotFrameworkAuth,
    ConnectorAuthError,
    ConnectorTokens,
    Unauthorized,
)
from tests.support import teams_signing
from tests.support.fakes.teams import ADAPTIVE_CARD, FakeBotFramework

CHANNEL_THREAD = "19:abc123@thread.tacv2;messageid=1700000000000"
PERSONAL_CHAT = "a:1xyzAbC-123_456"


class Clock:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def bf() -> Iterator[FakeBotFramework]:
    with FakeBotFramework() as fake:
        yield fake


def make_auth(bf: FakeBotFramework, **kwargs: Any) -> BotFrameworkAuth:
    return BotFrameworkAuth(app_id=bf.app_id, openid_metadata_url=bf.openid_metadata_url, **kwargs)


async def reason(
    auth: BotFrameworkAuth,
    authorization: str | None,
    *,
    service_url: str | None,
    channel_id: str | None = "msteams",
) -> str:
    """Why ``authorization`` is refused (fails the test when it is accepted)."""
    with pytest.raises(Unauthorized) as caught:
        await auth.validate(authorization, service_url=service_url, channel_id=channel_id)
    message = str(caught.value)
    assert message == caught.value.reason
    secret = (authorization or "").partition(" ")[2]
    if secret:
        assert secret not in message  # never the token
    return message


# -- inbound: accepted --------------------------------------------------------------------


def test_a_valid_token_passes_and_returns_its_claims(bf: FakeBotFramework) -> None:
    async def scenario() -> dict[str, Any]:
        auth = make_auth(bf)
        return await auth.validate(
            bf.authorization(extra={"appid": "bf-app"}),
            service_url=bf.service_url,
            channel_id="msteams",
        )

    claims = asyncio.run(scenario())
    assert claims["aud"] == bf.app_id
    assert claims["iss"] == "https://api.botframework.com"
    assert claims["serviceurl"] == bf.service_url
    assert claims["appid"] == "bf-app"
    assert bf.metadata_fetches == 1
    assert bf.jwks_fetches == 1


def test_service_url_compared_without_trailing_slash_or_host_case(bf: FakeBotFramework) -> None:
    claimed = "https://SMBA.TrafficManager.net/teams/"

    async def scenario() -> None:
        auth = make_auth(bf)
        for activity_url in (
            "https://smba.trafficmanager.net/teams",
            "https://smba.trafficmanager.net/teams/",
        ):
            await auth.validate(
                bf.authorization(service_url=claimed),
                service_url=activity_url,
                channel_id="msteams",
            )
        # The camel-case claim is accepted too.
        camel = bf.token(service_url=None, extra={"serviceUrl": claimed})
        await auth.validate(f"Bearer {camel}", service_url=claimed, channel_id="msteams")
        # The path is compared as it is: another region is another service.
        got = await reason(
            auth,
            bf.authorization(service_url=claimed),
            service_url="https://smba.trafficmanager.net/emea/",
        )
        assert got == "service url mismatch"

    asyncio.run(scenario())


def test_no_service_url_on_the_activity_skips_that_check(bf: FakeBotFramework) -> None:
    async def scenario() -> None:
        auth = make_auth(bf)
        await auth.validate(bf.authorization(service_url=None), service_url=None, channel_id=None)

    asyncio.run(scenario())


def test_clock_skew_within_the_leeway_is_tolerated(bf: FakeBotFramework) -> None:
    async def scenario() -> None:
        auth = make_auth(bf)
        await auth.validate(
            bf.authorization(expires_in=-200), service_url=bf.service_url, channel_id="msteams"
        )
        await auth.validate(
            bf.authorization(not_before=time.time() + 200),
            service_url=bf.service_url,
            channel_id="msteams",
        )

    asyncio.run(scenario())


def test_a_key_without_endorsements_accepts_any_channel(bf: FakeBotFramework) -> None:
    bf.set_endorsements(None)

    async def scenario() -> None:
        auth = make_auth(bf)
        await auth.validate(bf.authorization(), service_url=bf.service_url, channel_id="webchat")

    asyncio.run(scenario())


# -- inbound: refused ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, "missing token"),
        ("", "missing token"),
        ("Bearer ", "missing token"),
        ("Basic dXNlcjpwYXNz", "not a bearer token"),
        ("eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "not a bearer token"),
        ("Bearer not-a-jwt", "malformed token"),
    ],
)
def test_a_missing_or_malformed_header_is_refused_without_fetching(
    bf: FakeBotFramework, authorization: str | None, expected: str
) -> None:
    got = asyncio.run(reason(make_auth(bf), authorization, service_url=bf.service_url))
    assert got == expected
    assert bf.metadata_fetches == bf.jwks_fetches == 0


def test_an_unsigned_token_is_refused(bf: FakeBotFramework) -> None:
    unsigned = teams_signing.unsigned_token(aud=bf.app_id, service_url=bf.service_url)
    assert unsigned.endswith(".")  # header.payload. with an empty signature
    got = asyncio.run(reason(make_auth(bf), f"Bearer {unsigned}", service_url=bf.service_url))
    assert got == "algorithm not allowed: 'none'"
    assert bf.jwks_fetches == 0


def test_hs256_with_the_public_key_as_secret_is_refused(bf: FakeBotFramework) -> None:
    forged = teams_signing.hs256_token(aud=bf.app_id, service_url=bf.service_url)
    got = asyncio.run(reason(make_auth(bf), f"Bearer {forged}", service_url=bf.service_url))
    assert got == "algorithm not allowed: 'HS256'"


def test_a_token_signed_by_another_key_under_a_trusted_kid_is_refused(
    bf: FakeBotFramework,
) -> None:
    forged = teams_signing.foreign_token(aud=bf.app_id, kid=bf.kid, service_url=bf.service_url)
    got = asyncio.run(reason(make_auth(bf), f"Bearer {forged}", service_url=bf.service_url))
    assert got == "bad signature"


def test_an_unknown_kid_is_refused_after_one_refetch(bf: FakeBotFramework) -> None:
    clock = Clock()

    async def scenario() -> list[str]:
        auth = make_auth(bf, clock=clock)
        await auth.validate(bf.authorization(), service_url=bf.service_url, channel_id="msteams")
        assert (bf.metadata_fetches, bf.jwks_fetches) == (1, 1)
        stranger = bf.authorization(kid="nobody-knows-me")
        reasons = [await reason(auth, stranger, service_url=bf.service_url)]
        assert (bf.metadata_fetches, bf.jwks_fetches) == (2, 2)  # one refetch
        clock.advance(60)
        reasons += [await reason(auth, stranger, service_url=bf.service_url) for _ in range(5)]
        assert (bf.metadata_fetches, bf.jwks_fetches) == (2, 2)  # no refetch storm
        clock.advance(300)
        reasons.append(await reason(auth, stranger, service_url=bf.service_url))
        assert (bf.metadata_fetches, bf.jwks_fetches) == (3, 3)  # five minutes later: again
        return reasons

    assert set(asyncio.run(scenario())) == {"unknown signing key"}


def test_many_different_unknown_kids_do_not_cause_a_refetch_each(bf: FakeBotFramework) -> None:
    clock = Clock()

    async def scenario() -> None:
        auth = make_auth(bf, clock=clock)
        for n in range(20):
            got = await reason(auth, bf.authorization(kid=f"forged-{n}"), service_url=None)
            assert got == "unknown signing key"
        assert bf.jwks_fetches == 2  # the first fetch and one early refetch
        clock.advance(11)
        await reason(auth, bf.authorization(kid="forged-later"), service_url=None)
        assert bf.jwks_fetches == 3

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"aud": "someone-elses-app"}, "wrong audience"),
        ({"iss": "https://sts.windows.net/evil/"}, "wrong issuer"),
        ({"expires_in": -301 - 60}, "expired"),
        ({"not_before": time.time() + 3600}, "not yet valid"),
        ({"service_url": "https://smba.trafficmanager.net/teams/"}, "service url mismatch"),
        ({"service_url": None}, "service url missing from token"),
    ],
)
def test_wrong_claims_are_refused(
    bf: FakeBotFramework, claims: dict[str, Any], expected: str
) -> None:
    got = asyncio.run(reason(make_auth(bf), bf.authorization(**claims), service_url=bf.service_url))
    assert got == expected


def test_a_token_without_expiry_is_refused(bf: FakeBotFramework) -> None:
    payload = teams_signing.claims(aud=bf.app_id, service_url=bf.service_url)
    del payload["exp"]
    unbounded = jwt.encode(payload, bf.key, algorithm="RS256", headers={"kid": bf.kid})
    got = asyncio.run(reason(make_auth(bf), f"Bearer {unbounded}", service_url=bf.service_url))
    assert got == "missing exp claim"


def test_a_channel_the_key_is_not_endorsed_for_is_refused(bf: FakeBotFramework) -> None:
    async def scenario() -> None:
        auth = make_auth(bf, clock=Clock())
        # The key signs for Teams only: an activity claiming another channel is refused.
        got = await reason(auth, bf.authorization(), service_url=bf.service_url, channel_id="sms")
        assert got == "channel not endorsed"

    asyncio.run(scenario())

    bf.set_endorsements(["webchat", "directline"])

    async def teams_not_endorsed() -> None:
        auth = make_auth(bf)
        got = await reason(auth, bf.authorization(), service_url=bf.service_url)
        assert got == "channel not endorsed"
        # Without a channel id on the activity, the configured channel (msteams) is checked.
        got = await reason(auth, bf.authorization(), service_url=bf.service_url, channel_id=None)
        assert got == "channel not endorsed"

    asyncio.run(teams_not_endorsed())


def test_keys_that_cannot_be_fetched_refuse_until_they_can(bf: FakeBotFramework) -> None:
    async def scenario() -> None:
        auth = make_auth(bf)
        bf.fail_next("keys", status=500)
        got = await reason(auth, bf.authorization(), service_url=bf.service_url)
        assert got == "signing keys unavailable"
        bf.fail_next("metadata", status=503, retry_after=None)
        got = await reason(auth, bf.authorization(), service_url=bf.service_url)
        assert got == "signing keys unavailable"
        await auth.validate(bf.authorization(), service_url=bf.service_url, channel_id="msteams")

    asyncio.run(scenario())
    assert [(r.kind, r.status) for r in bf.requests] == [
        ("metadata", 200),
        ("keys", 500),
        ("metadata", 503),
        ("metadata", 200),
        ("keys", 200),
    ]


# -- inbound: caching and rotation --------------------------------------------------------


def test_metadata_and_keys_are_fetched_once_for_many_validations(bf: FakeBotFramework) -> None:
    tokens = [bf.authorization() for _ in range(10)]

    async def scenario() -> None:
        auth = make_auth(bf)
        # All at once on a cold cache: one fetch, the others wait for it.
        await asyncio.gather(
            *(
                auth.validate(t, service_url=bf.service_url, channel_id="msteams")
                for t in tokens * 3
            )
        )
        for t in tokens:
            await auth.validate(t, service_url=bf.service_url, channel_id="msteams")

    asyncio.run(scenario())
    assert (bf.metadata_fetches, bf.jwks_fetches) == (1, 1)


def test_keys_are_fetched_again_after_a_day(bf: FakeBotFramework) -> None:
    clock = Clock()

    async def scenario() -> None:
        auth = make_auth(bf, clock=clock)
        await auth.validate(bf.authorization(), service_url=bf.service_url, channel_id="msteams")
        clock.advance(23 * 3600)
        await auth.validate(bf.authorization(), service_url=bf.service_url, channel_id="msteams")
        assert bf.jwks_fetches == 1
        clock.advance(3600)
        await auth.validate(bf.authorization(), service_url=bf.service_url, channel_id="msteams")
        assert (bf.metadata_fetches, bf.jwks_fetches) == (2, 2)

    asyncio.run(scenario())


def test_old_keys_are_kept_when_a_daily_refetch_fails(bf: FakeBotFramework) -> None:
    clock = Clock()

    async def scenario() -> None:
        auth = make_auth(bf, clock=clock)
        await auth.validate(bf.authorization(), service_url=bf.service_url, channel_id="msteams")
        clock.advance(24 * 3600)
        bf.fail_next("metadata", status=500)
        await auth.validate(bf.authorization(), service_url=bf.service_url, channel_id="msteams")
        await auth.validate(bf.authorization(), service_url=bf.service_url, channel_id="msteams")
        assert bf.metadata_fetches == 1  # the failed attempt is not counted; no retry yet
        clock.advance(300)
        await auth.validate(bf.authorization(), service_url=bf.service_url, channel_id="msteams")
        assert (bf.metadata_fetches, bf.jwks_fetches) == (2, 2)

    asyncio.run(scenario())
    assert [r.kind for r in bf.requests] == ["metadata", "keys", "metadata", "metadata", "keys"]


def test_a_rotated_key_is_picked_up(bf: FakeBotFramework) -> None:
    clock = Clock()

    async def scenario() -> None:
        auth = make_auth(bf, clock=clock)
        old = bf.authorization()
        await auth.validate(old, service_url=bf.service_url, channel_id="msteams")
        new_kid = bf.rotate_key()
        assert new_kid != teams_signing.KID
        new = bf.authorization()
        claims = await auth.validate(new, service_url=bf.service_url, channel_id="msteams")
        assert claims["aud"] == bf.app_id
        assert (bf.metadata_fetches, bf.jwks_fetches) == (2, 2)
        # The old key is no longer published: its tokens stop working.
        assert await reason(auth, old, service_url=bf.service_url) == "unknown signing key"
        # A token with the new kid but the old key's signature is a forgery.
        forged = bf.authorization(key=teams_signing.private_key())
        assert await reason(auth, forged, service_url=bf.service_url) == "bad signature"

    asyncio.run(scenario())


def test_an_injected_http_client_is_used(bf: FakeBotFramework) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(headers={"X-Probe": "steward"}) as http:
            auth = make_auth(bf, http=http)
            await auth.validate(
                bf.authorization(), service_url=bf.service_url, channel_id="msteams"
            )

    asyncio.run(scenario())
    assert {r.headers.get("x-probe") for r in bf.requests} == {"steward"}


# -- outbound: the app's token ------------------------------------------------------------


def make_tokens(bf: FakeBotFramework, **kwargs: Any) -> ConnectorTokens:
    kwargs.setdefault("app_password", bf.app_password)
    return ConnectorTokens(app_id=bf.app_id, token_url=bf.token_url, **kwargs)


def test_the_connector_token_is_cached_and_refetched_near_expiry(bf: FakeBotFramework) -> None:
    clock = Clock()

    async def scenario() -> list[str]:
        tokens = make_tokens(bf, clock=clock)
        got = [await tokens.token(), await tokens.token()]
        clock.advance(3600 - 300 - 1)
        got.append(await tokens.token())
        clock.advance(1)  # five minutes before expiry
        got.append(await tokens.token())
        return got

    first, again, still, renewed = asyncio.run(scenario())
    assert first == again == still != renewed
    assert bf.issued_tokens == [first, renewed]
    assert [(r.client_id, r.scope, r.grant_type, r.granted) for r in bf.token_requests] == [
        (bf.app_id, "https://api.botframework.com/.default", "client_credentials", True)
    ] * 2
    assert {r.tenant for r in bf.token_requests} == {"botframework.com"}


def test_one_token_fetch_serves_many_waiting_callers(bf: FakeBotFramework) -> None:
    async def scenario() -> set[str]:
        tokens = make_tokens(bf)
        return set(await asyncio.gather(*(tokens.token() for _ in range(20))))

    assert asyncio.run(scenario()) == set(bf.issued_tokens)
    assert len(bf.token_requests) == 1


def test_a_short_lived_token_is_kept_for_half_its_life(bf: FakeBotFramework) -> None:
    bf.token_lifetime = 120
    clock = Clock()

    async def scenario() -> None:
        tokens = make_tokens(bf, clock=clock)
        first = await tokens.token()
        clock.advance(59)
        assert await tokens.token() == first
        clock.advance(1)
        assert await tokens.token() != first
        tokens.invalidate()
        await tokens.token()

    asyncio.run(scenario())
    assert len(bf.issued_tokens) == 3


def test_a_failed_renewal_keeps_the_current_token_while_it_is_valid(
    bf: FakeBotFramework,
) -> None:
    clock = Clock()

    async def scenario() -> None:
        tokens = make_tokens(bf, clock=clock)
        first = await tokens.token()
        clock.advance(3600 - 300)  # time to renew
        bf.fail_next("token", status=503, retry_after=20)
        assert await tokens.token() == first
        assert await tokens.token() == first  # no retry for 30 s
        assert len(bf.token_requests) == 2
        clock.advance(30)
        renewed = await tokens.token()
        assert renewed != first
        assert len(bf.token_requests) == 3
        # Renewal failing with no time left on the token is an error.
        clock.advance(3600)
        bf.fail_next("token", status=429, retry_after=20)
        with pytest.raises(ConnectorAuthError) as caught:
            await tokens.token()
        assert caught.value.status == 429
        assert caught.value.error == "temporarily_unavailable"
        assert caught.value.retry_after == 20.0

    asyncio.run(scenario())


def test_a_bad_secret_gives_a_clear_error_without_the_secret(bf: FakeBotFramework) -> None:
    secret = "wrong-secret~Zm9vYmFyYmF6"

    async def scenario() -> ConnectorAuthError:
        tokens = make_tokens(bf, app_password=secret)
        with pytest.raises(ConnectorAuthError) as caught:
            await tokens.token()
        return caught.value

    error = asyncio.run(scenario())
    assert error.status == 401
    assert error.error == "invalid_client"
    assert error.description is not None
    assert error.description.startswith("AADSTS7000215")
    assert "invalid_client" in str(error)
    assert bf.app_id in str(error)
    for text in (str(error), repr(error), repr(error.args), error.description):
        assert secret not in text
    assert bf.issued_tokens == []
    assert bf.token_requests[0].granted is False


def test_an_echoed_secret_is_scrubbed_from_the_error(bf: FakeBotFramework) -> None:
    bf.fail_next(
        "token",
        status=400,
        body={"error": "invalid_request", "error_description": f"bad value {bf.app_password}"},
    )

    async def scenario() -> ConnectorAuthError:
        with pytest.raises(ConnectorAuthError) as caught:
            await make_tokens(bf).token()
        return caught.value

    error = asyncio.run(scenario())
    assert error.status == 400
    assert error.error == "invalid_request"
    assert bf.app_password not in str(error)
    assert bf.app_password not in (error.description or "")
    assert "***" in str(error)


def test_an_unreachable_token_endpoint_gives_a_clear_error(bf: FakeBotFramework) -> None:
    url = bf.token_url
    bf.stop()

    async def scenario() -> ConnectorAuthError:
        tokens = ConnectorTokens(app_id="app", app_password="s3cret-pw", token_url=url)
        with pytest.raises(ConnectorAuthError) as caught:
            await tokens.token()
        return caught.value

    error = asyncio.run(scenario())
    assert error.status is None
    assert "ConnectError" in str(error)
    assert "s3cret-pw" not in str(error)


def test_token_url_defaults_to_the_tenant_endpoint() -> None:
    tokens = ConnectorTokens(app_id="app", app_password="pw", tenant_id="contoso.onmicrosoft.com")
    assert tokens.token_url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert tokens.scope == "https://api.botframework.com/.default"
    assert "pw" not in repr(tokens).replace("app", "")


# -- outbound: the fake speaks what the SDK sends -----------------------------------------


def card_activity(title: str) -> Activity:
    return Activity.model_validate(
        {
            "type": "message",
            "summary": title,
            "attachments": [
                {
                    "contentType": ADAPTIVE_CARD,
                    "content": {
                        "type": "AdaptiveCard",
                        "version": "1.5",
                        "body": [{"type": "TextBlock", "text": title}],
                    },
                }
            ],
        }
    )


async def with_client(
    bf: FakeBotFramework, body: Callable[[ConnectorClient], Any], *, token: str | None = None
) -> Any:
    if token is None:
        token = await make_tokens(bf).token()
    client = ConnectorClient(bf.service_url, token)
    try:
        return await body(client)
    finally:
        await client.close()


def test_the_sdk_connector_client_reaches_the_fake(bf: FakeBotFramework) -> None:
    async def scenario(client: ConnectorClient) -> tuple[str, str]:
        sent = await client.conversations.send_to_conversation(
            CHANNEL_THREAD, card_activity("Acme: health 42")
        )
        dm = await client.conversations.send_to_conversation(
            PERSONAL_CHAT, Activity(type="message", text="hello")
        )
        assert sent.id
        assert dm.id
        return sent.id, dm.id

    sent_id, dm_id = asyncio.run(with_client(bf, scenario))

    [posted] = bf.wait_for_activities(1, CHANNEL_THREAD)
    assert (posted.kind, posted.verb, posted.activity_id) == ("send", "POST", sent_id)
    assert posted.headers["authorization"] == f"Bearer {bf.issued_tokens[0]}"
    assert bf.cards(CHANNEL_THREAD) == [
        {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [{"type": "TextBlock", "text": "Acme: health 42"}],
        }
    ]
    [chat] = bf.activities(PERSONAL_CHAT)
    assert chat.text == "hello"
    assert chat.activity_id == dm_id
    assert bf.message(PERSONAL_CHAT, dm_id) == {"type": "message", "text": "hello", "id": dm_id}


def test_reply_update_delete_members_and_create_through_the_sdk(bf: FakeBotFramework) -> None:
    bf.add_member(CHANNEL_THREAD, "aad-casey", "Casey Jones")
    bf.add_member(CHANNEL_THREAD, "aad-gus", "Gus Guest", user_role="guest", tenant_id="other")

    async def scenario(client: ConnectorClient) -> dict[str, Any]:
        conversations = client.conversations
        first = await conversations.send_to_conversation(CHANNEL_THREAD, card_activity("v1"))
        assert first.id is not None
        reply = await conversations.reply_to_activity(
            CHANNEL_THREAD, first.id, Activity(type="message", text="a reply")
        )
        updated = await conversations.update_activity(CHANNEL_THREAD, first.id, card_activity("v2"))
        members = await conversations.get_conversation_members(CHANNEL_THREAD)
        channel_members = await conversations.get_conversation_members("19:abc123@thread.tacv2")
        created = await conversations.create_conversation(
            ConversationParameters(
                is_group=False,
                members=[ChannelAccount(id="29:1casey")],
                tenant_id=bf.tenant_id,
                channel_data={"tenant": {"id": bf.tenant_id}},
            )
        )
        await conversations.delete_activity(CHANNEL_THREAD, reply.id or "")
        return {
            "first": first.id,
            "reply": reply.id,
            "updated": updated.id,
            "members": [m.model_dump(by_alias=True, exclude_none=True) for m in members],
            "channel_members": len(channel_members),
            "created": created.id,
        }

    got = asyncio.run(with_client(bf, scenario))
    assert got["updated"] == got["first"]
    assert [(m["aadObjectId"], m["userRole"], m["tenantId"]) for m in got["members"]] == [
        ("aad-casey", "user", bf.tenant_id),
        ("aad-gus", "guest", "other"),
    ]
    assert got["members"][0]["name"] == "Casey Jones"
    assert got["members"][0]["id"].startswith("29:")
    assert got["channel_members"] == 2
    assert got["created"].startswith("a:1")

    calls = bf.activities(CHANNEL_THREAD)
    assert [(c.kind, c.verb) for c in calls] == [
        ("send", "POST"),
        ("reply", "POST"),
        ("update", "PUT"),
        ("delete", "DELETE"),
    ]
    assert calls[1].reply_to_id == got["first"]
    assert bf.cards(CHANNEL_THREAD, kind="update")[0]["body"][0]["text"] == "v2"
    current = bf.message(CHANNEL_THREAD, got["first"])
    assert current is not None
    assert current["attachments"][0]["content"]["body"][0]["text"] == "v2"
    assert bf.message(CHANNEL_THREAD, got["reply"]) is None  # deleted
    assert bf.conversations[got["created"]]["members"] == [{"id": "29:1casey"}]


def test_a_429_surfaces_as_client_response_error_with_retry_after(bf: FakeBotFramework) -> None:
    bf.fail_next("send", status=429, retry_after=7)

    async def scenario(client: ConnectorClient) -> aiohttp.ClientResponseError:
        with pytest.raises(aiohttp.ClientResponseError) as caught:
            await client.conversations.send_to_conversation(PERSONAL_CHAT, card_activity("x"))
        await client.conversations.send_to_conversation(PERSONAL_CHAT, card_activity("y"))
        return caught.value

    error = asyncio.run(with_client(bf, scenario))
    assert error.status == 429
    assert error.headers is not None
    assert error.headers["Retry-After"] == "7"
    assert "Throttled" in error.message
    assert [c.failed_with for c in bf.attempts("send", PERSONAL_CHAT)] == [429, None]
    assert [c["body"][0]["text"] for c in bf.cards(PERSONAL_CHAT)] == ["y"]


def test_a_bot_outside_the_roster_gets_403(bf: FakeBotFramework) -> None:
    bf.fail_next("reply", status=403)

    async def scenario(client: ConnectorClient) -> aiohttp.ClientResponseError:
        with pytest.raises(aiohttp.ClientResponseError) as caught:
            await client.conversations.reply_to_activity(
                CHANNEL_THREAD, "1700000000001", Activity(type="message", text="hi")
            )
        return caught.value

    error = asyncio.run(with_client(bf, scenario))
    assert error.status == 403
    assert "BotNotInConversationRoster" in error.message
    assert bf.activities() == []


def test_connector_calls_need_a_token_the_fake_issued(bf: FakeBotFramework) -> None:
    async def scenario(client: ConnectorClient) -> int:
        with pytest.raises(aiohttp.ClientResponseError) as caught:
            await client.conversations.send_to_conversation(PERSONAL_CHAT, card_activity("x"))
        return caught.value.status

    assert asyncio.run(with_client(bf, scenario, token="")) == 401
    assert asyncio.run(with_client(bf, scenario, token="forged-token")) == 401
    assert bf.attempts() == []
    assert [r.status for r in bf.requests] == [401, 401]


def test_unknown_conversation_members_are_not_found(bf: FakeBotFramework) -> None:
    async def scenario(client: ConnectorClient) -> int:
        with pytest.raises(aiohttp.ClientResponseError) as caught:
            await client.conversations.get_conversation_members("a:1unknown")
        return caught.value.status

    assert asyncio.run(with_client(bf, scenario)) == 404
