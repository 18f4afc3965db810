"""A loopback fake of the Bot Framework: signing keys, the token endpoint and the Bot Connector.

``FakeBotFramework`` runs a real HTTP server on 127.0.0.1 (random port) in a daemon thread,
so Steward's own code (``BotFrameworkAuth``, ``ConnectorTokens``) and the Agents SDK's
``ConnectorClient`` talk to it over loopback exactly as they would talk to Microsoft::

    with FakeBotFramework() as bf:
        auth = BotFrameworkAuth(app_id=bf.app_id, openid_metadata_url=bf.openid_metadata_url)
        claims = await auth.validate(f"Bearer {bf.token()}", service_url=bf.service_url,
                                     channel_id="msteams")
        tokens = ConnectorTokens(app_id=bf.app_id, app_password=bf.app_password,
                                 token_url=bf.token_url)
        client = ConnectorClient(bf.service_url, await tokens.token())
        await client.conversations.send_to_conversation("a:1xyz", activity)
        bf.wait_for_activities(1, "a:1xyz")

What it serves:

- ``GET /v1/.well-known/openidconfiguration`` (the OpenID metadata) and
  ``GET /v1/.well-known/keys`` (the JWKS: the signing keys from :mod:`tests.teams_signing`,
  with ``endorsements``); fetches are counted (``metadata_fetches``, ``jwks_fetches``) and
  the key can be rotated (``rotate_key``).
- ``POST /<tenant>/oauth2/v2.0/token``: OAuth2 client credentials for ``app_id`` /
  ``app_password``; issues opaque tokens (``issued_tokens``) or answers 401
  ``invalid_client``.
- The Bot Connector at ``service_url`` (``<base>/teams/``): ``POST v3/conversations``
  (create), ``POST v3/conversations/{id}/activities`` (send),
  ``POST|PUT|DELETE v3/conversations/{id}/activities/{activityId}`` (reply, update, delete),
  ``GET v3/conversations/{id}/members[/{memberId}]`` and ``.../pagedmembers`` (the roster
  set up with ``add_member``).  Every call needs ``Authorization: Bearer <a token issued
  here>`` (else 401).  Conversation ids are Teams-shaped (``19:abc@thread.tacv2;messageid=1``,
  ``a:1xyz``); path segments are URL-decoded.

Scripted failures (``fail_next``) cover throttling (429 with ``Retry-After``), server errors
and Teams' refusals (403 ``BotNotInConversationRoster``).  All state is guarded by one
re-entrant lock with a condition variable, so tests block on ``wait_for_activities`` instead
of sleeping.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import teams_signing
from tests.support.fakes.loopback import LoopbackFake, Reply

Json = dict[str, Any]

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
DEFAULT_APP_ID = "00000000-0000-4000-8000-0000057e3a2d"
DEFAULT_TENANT_ID = "11111111-1111-4111-8111-111111111111"
SERVICE_PATH = "/teams/"
_EPOCH_MS = 1_700_000_000_000

FAILURE_KINDS = frozenset(
    {"metadata", "keys", "token", "create", "send", "reply", "update", "delete", "members"}
)

# Teams' error codes for the statuses tests script most.
_CONNECTOR_ERRORS = {
    400: ("BadArgument", "The request is invalid."),
    401: ("Unauthorized", "Authorization has been denied for this request."),
    403: ("BotNotInConversationRoster", "The bot is not part of the conversation roster."),
    404: ("ConversationNotFound", "Conversation not found."),
    412: ("PreconditionFailed", "Precondition failed, please try again."),
    429: ("Throttled", "Too many requests."),
}


@dataclass(frozen=True)
class Activity:
    """One call to the Bot Connector that carries (or changes) an activity.

    ``kind`` is ``send``, ``reply``, ``update``, ``delete`` or ``create`` (a new
    conversation, with its first activity when the parameters carried one).
    ``activity_id`` is the activity the call created or changed (None when it failed
    before one was assigned); ``reply_to_id`` the one a reply answered.  ``body`` is the
    decoded JSON (for ``create``: the activity inside the parameters, or ``{}``).
    ``failed_with`` is the HTTP status when the call was refused.
    """

    kind: str
    verb: str
    conversation_id: str
    activity_id: str | None
    body: Json
    headers: dict[str, str]
    at: float
    failed_with: int | None = None
    reply_to_id: str | None = None
    path: str = ""

    @property
    def text(self) -> str | None:
        value = self.body.get("text")
        return value if isinstance(value, str) else None

    @property
    def cards(self) -> list[Json]:
        """The Adaptive Cards among the attachments (their ``content``)."""
        return _cards_of(self.body)

    @property
    def card(self) -> Json | None:
        found = self.cards
        return found[0] if found else None


@dataclass(frozen=True)
class Request:
    """Any HTTP request the fake answered.  ``kind`` is the route (``metadata``, ``keys``,
    ``token``, ``send``, ..., ``unknown``); ``headers`` keys are lower-cased."""

    kind: str
    verb: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float


@dataclass(frozen=True)
class TokenRequest:
    """A client-credentials request (the secret is not kept, only whether it matched)."""

    tenant: str
    grant_type: str | None
    client_id: str | None
    scope: str | None
    granted: bool


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float | None
    body: Json | list[Any] | str | None


@dataclass
class _SigningKey:
    kid: str
    key: rsa.RSAPrivateKey
    endorsements: tuple[str, ...] | None


class FakeBotFramework(LoopbackFake):
    """A fake Bot Framework on loopback.  See the module docstring.

    Set up: ``app_id`` / ``app_password`` (the app the token endpoint knows),
    ``tenant_id`` (members' default tenant), ``token_lifetime`` (``expires_in`` of issued
    tokens), ``add_member``, ``rotate_key``, ``set_endorsements``, ``fail_next``.

    Records: ``requests`` (every request), ``token_requests`` and ``issued_tokens``,
    ``conversations`` (id -> creation parameters), ``messages`` ((conversation id,
    activity id) -> the activity as last sent or updated; deleted ones removed), connector
    calls through ``activities()`` / ``attempts()``, ``metadata_fetches`` /
    ``jwks_fetches``, and ``errors`` (exceptions inside the fake itself, answered with 500).
    """

    def __init__(
        self,
        *,
        app_id: str = DEFAULT_APP_ID,
        app_password: str = "fake-app-password~0123456789",
        tenant_id: str = DEFAULT_TENANT_ID,
        endorsements: Iterable[str] | None = ("msteams",),
        token_lifetime: int = 3600,
    ) -> None:
        super().__init__()
        self.app_id = app_id
        self.app_password = app_password
        self.tenant_id = tenant_id
        self.token_lifetime = token_lifetime

        self.requests: list[Request] = []
        self.token_requests: list[TokenRequest] = []
        self.issued_tokens: list[str] = []
        self.conversations: dict[str, Json] = {}
        self.messages: dict[tuple[str, str], Json] = {}
        self.members: defaultdict[str, list[Json]] = defaultdict(list)
        self.metadata_fetches = 0
        self.jwks_fetches = 0

        self._calls: list[Activity] = []
        self._keys = [
            _SigningKey(
                teams_signing.KID,
                teams_signing.private_key(),
                None if endorsements is None else tuple(endorsements),
            )
        ]
        self._rotations = 0
        self._ids = 0
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)

    # -- addresses (``url``, start and stop: see LoopbackFake) ---------------------------

    @property
    def openid_metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    @property
    def jwks_uri(self) -> str:
        return f"{self.url}/v1/.well-known/keys"

    @property
    def service_url(self) -> str:
        """The activities' ``serviceUrl``: the Bot Connector's base (``<base>/teams/``)."""
        return f"{self.url}{SERVICE_PATH}"

    @property
    def token_url(self) -> str:
        """The token endpoint for the ``botframework.com`` tenant (multi-tenant bots)."""
        return self.token_url_for("botframework.com")

    def token_url_for(self, tenant: str) -> str:
        return f"{self.url}/{tenant}/oauth2/v2.0/token"

    # -- signing keys ------------------------------------------------------------------

    @property
    def kid(self) -> str:
        """The key id that signs new tokens."""
        with self._lock:
            return self._keys[-1].kid

    @property
    def key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            return self._keys[-1].key

    def jwks(self) -> Json:
        """What ``GET /v1/.well-known/keys`` answers now."""
        with self._lock:
            return {
                "keys": [
                    teams_signing.jwk(key=k.key, kid=k.kid, endorsements=k.endorsements)
                    for k in self._keys
                ]
            }

    def rotate_key(self, *, keep_old: bool = False) -> str:
        """Sign with a new key from now on (and publish only it, unless ``keep_old``);
        return its kid."""
        with self._lock:
            self._rotations += 1
            current = self._keys[-1]
            new = _SigningKey(
                f"steward-test-key-{self._rotations + 1}",
                teams_signing.private_key(f"rotated-{self._rotations}"),
                current.endorsements,
            )
            self._keys = [*self._keys, new] if keep_old else [new]
            return new.kid

    def set_endorsements(self, endorsements: Iterable[str] | None) -> None:
        """The channels the current key is endorsed for (None: no ``endorsements``)."""
        with self._lock:
            self._keys[-1].endorsements = None if endorsements is None else tuple(endorsements)

    def token(self, **kwargs: Any) -> str:
        """A token signed with the current key, for ``app_id`` and ``service_url`` unless
        given: see :func:`tests.teams_signing.token` for the keywords."""
        kwargs.setdefault("aud", self.app_id)
        kwargs.setdefault("service_url", self.service_url)
        kwargs.setdefault("key", self.key)
        kwargs.setdefault("kid", self.kid)
        return teams_signing.token(**kwargs)

    def authorization(self, **kwargs: Any) -> str:
        """``Bearer <token(**kwargs)>``."""
        return f"Bearer {self.token(**kwargs)}"

    # -- roster ------------------------------------------------------------------------

    def add_member(
        self,
        conversation_id: str,
        aad_object_id: str,
        name: str,
        user_role: str = "user",
        tenant_id: str | None = None,
        *,
        email: str | None = None,
        member_id: str | None = None,
        **extra: Any,
    ) -> Json:
        """Put someone in a conversation's roster (a channel thread's id counts as its
        channel's).  ``user_role``: ``user``, ``guest`` or ``anonymous``."""
        handle = name.lower().replace(" ", ".")
        address = email or f"{handle}@contoso.example"
        member: Json = {
            "id": member_id or f"29:1{_digest(aad_object_id, 40)}",
            "name": name,
            "aadObjectId": aad_object_id,
            "givenName": name.split(" ")[0],
            "surname": name.split(" ")[-1] if " " in name else None,
            "email": address,
            "userPrincipalName": address,
            "tenantId": tenant_id or self.tenant_id,
            "userRole": user_role,
        }
        member.update(extra)
        with self._lock:
            self.members[_root(conversation_id)].append(member)
        return member

    # -- scripted failures -------------------------------------------------------------

    def fail_next(
        self,
        kind: str,
        status: int = 429,
        retry_after: float | None = 1,
        times: int = 1,
        *,
        body: Json | list[Any] | str | None = None,
    ) -> None:
        """Answer the next ``times`` requests of ``kind`` (``send``, ``reply``, ``update``,
        ``delete``, ``create``, ``members``, ``token``, ``metadata``, ``keys``) with
        ``status``.  A 429 or 503 carries ``Retry-After: retry_after`` (unless None).
        Bodies default to what the real service answers (Teams' ``{"error": {"code",
        "message"}}``, OAuth2's ``{"error", "error_description"}``).  Connector calls are
        authenticated first: a call without a valid token gets 401 and takes no failure.
        Repeated calls queue up."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {sorted(FAILURE_KINDS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        failure = _Failure(status, retry_after if status in (429, 503) else None, body)
        with self._lock:
            self._failures[kind].extend([failure] * times)

    # -- what happened -----------------------------------------------------------------

    def attempts(
        self, kind: str | None = None, conversation_id: str | None = None
    ) -> list[Activity]:
        """Every authenticated activity call, refused ones included."""
        with self._lock:
            return [
                c
                for c in self._calls
                if (kind is None or c.kind == kind)
                and (conversation_id is None or c.conversation_id == conversation_id)
            ]

    def activities(
        self, conversation_id: str | None = None, *, kind: str | None = None
    ) -> list[Activity]:
        """The activity calls that succeeded, oldest first."""
        return [c for c in self.attempts(kind, conversation_id) if c.failed_with is None]

    def wait_for_activities(
        self,
        count: int,
        conversation_id: str | None = None,
        timeout: float = 10.0,
        *,
        kind: str | None = None,
    ) -> list[Activity]:
        """Block until at least ``count`` activity calls succeeded (in ``conversation_id``)."""
        with self._cond:
            arrived = self._cond.wait_for(
                lambda: len(self.activities(conversation_id, kind=kind)) >= count, timeout
            )
            got = self.activities(conversation_id, kind=kind)
            if not arrived:
                everything = [(c.kind, c.conversation_id, c.failed_with) for c in self._calls]
                raise AssertionError(
                    f"expected {count} activit(ies) in {conversation_id or 'any conversation'} "
                    f"within {timeout}s, got {len(got)}; all calls so far: {everything!r}; "
                    f"errors: {self.errors!r}"
                )
            return got

    def cards(self, conversation_id: str | None = None, *, kind: str | None = None) -> list[Json]:
        """The Adaptive Card contents of the successful activity calls, oldest first."""
        return [card for c in self.activities(conversation_id, kind=kind) for card in c.cards]

    def message(self, conversation_id: str, activity_id: str) -> Json | None:
        """An activity as it stands now (after updates)."""
        with self._lock:
            found = self.messages.get((conversation_id, activity_id))
            return copy.deepcopy(found) if found is not None else None

    # -- serving -----------------------------------------------------------------------

    def _dispatch(self, verb: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        at = time.monotonic()
        path = urlsplit(raw_path).path
        segments = [unquote(s) for s in path.split("/")[1:]]
        kind = "unknown"
        with self._cond:
            try:
                if path == "/v1/.well-known/openidconfiguration":
                    kind = "metadata"
                    reply = self._metadata(verb)
                elif path == "/v1/.well-known/keys":
                    kind = "keys"
                    reply = self._keys_reply(verb)
                elif len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"]:
                    kind = "token"
                    reply = self._token(verb, segments[0], body)
                elif segments[:3] == ["teams", "v3", "conversations"]:
                    rest = segments[3:]
                    kind = _connector_kind(verb, rest)
                    reply = self._connector(kind, verb, rest, path, headers, body, at)
                else:
                    reply = Reply.text("not found", 404)
            except Exception:
                self.requests.append(Request(kind, verb, path, headers, body, 500, at))
                self._cond.notify_all()
                raise
            self.requests.append(Request(kind, verb, path, headers, body, reply.status, at))
            self._cond.notify_all()
        return reply

    def _take_failure(self, kind: str) -> _Failure | None:
        queue = self._failures.get(kind)
        return queue.popleft() if queue else None

    def _metadata(self, verb: str) -> Reply:
        if verb != "GET":
            return Reply.text("method not allowed", 405)
        failure = self._take_failure("metadata")
        if failure is not None:
            return _failure_reply(failure, "plain")
        self.metadata_fetches += 1
        return Reply.json(
            {
                "issuer": teams_signing.ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": self.jwks_uri,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    def _keys_reply(self, verb: str) -> Reply:
        if verb != "GET":
            return Reply.text("method not allowed", 405)
        failure = self._take_failure("keys")
        if failure is not None:
            return _failure_reply(failure, "plain")
        self.jwks_fetches += 1
        return Reply.json(self.jwks())

    def _token(self, verb: str, tenant: str, body: bytes) -> Reply:
        if verb != "POST":
            return Reply.text("method not allowed", 405)
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = {}
        client_id, scope = form.get("client_id"), form.get("scope")
        grant_type = form.get("grant_type")
        granted = False
        failure = self._take_failure("token")
        if failure is not None:
            reply = _failure_reply(failure, "oauth")
        elif grant_type != "client_credentials":
            reply = _oauth_error(
                400, "unsupported_grant_type", "AADSTS70003: The grant type is not supported."
            )
        elif not scope:
            reply = _oauth_error(400, "invalid_request", "AADSTS90014: 'scope' is missing.")
        elif client_id != self.app_id:
            reply = _oauth_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found.",
            )
        elif not secrets.compare_digest(
            form.get("client_secret", "").encode(), self.app_password.encode()
        ):
            reply = _oauth_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                "in the request is the client secret value, not the client secret ID, for a "
                f"secret added to app '{client_id}'.",
            )
        else:
            granted = True
            access_token = f"fake-bf-{secrets.token_urlsafe(24)}"
            self.issued_tokens.append(access_token)
            reply = Reply.json(
                {
                    "token_type": "Bearer",
                    "expires_in": self.token_lifetime,
                    "ext_expires_in": self.token_lifetime,
                    "access_token": access_token,
                }
            )
        self.token_requests.append(TokenRequest(tenant, grant_type, client_id, scope, granted))
        return reply

    def _connector(
        self,
        kind: str,
        verb: str,
        rest: list[str],
        path: str,
        headers: dict[str, str],
        raw: bytes,
        at: float,
    ) -> Reply:
        if kind == "unknown":
            return _connector_error(404, "NotFound", f"No route for {verb} {path}")
        scheme, _, presented = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or presented not in self.issued_tokens:
            return _connector_error(401, *_CONNECTOR_ERRORS[401])
        if kind == "members":
            failure = self._take_failure("members")
            if failure is not None:
                return _failure_reply(failure, "connector")
            return self._members(rest)
        body: Json = {}
        if raw:
            try:
                decoded = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                decoded = None
            if not isinstance(decoded, dict):
                return _connector_error(400, "BadSyntax", "The request body is not JSON.")
            body = decoded
        conversation_id = rest[0] if rest else ""
        target = rest[2] if len(rest) > 2 else None
        failure = self._take_failure(kind)
        if failure is not None:
            self._record(
                kind,
                verb,
                conversation_id,
                target,
                body,
                headers,
                at,
                path,
                failed_with=failure.status,
            )
            return _failure_reply(failure, "connector")
        if kind == "create":
            return self._create(verb, body, headers, at, path)
        if kind in ("send", "reply") and not body.get("type"):
            return _connector_error(400, "BadArgument", "Activity type is required.")
        if kind == "send":
            new_id = self._next_id()
            self._store(conversation_id, new_id, body)
            self._record(kind, verb, conversation_id, new_id, body, headers, at, path)
            return Reply.json({"id": new_id})
        if kind == "reply":
            new_id = self._next_id()
            self._store(conversation_id, new_id, {**body, "replyToId": target})
            self._record(
                kind, verb, conversation_id, new_id, body, headers, at, path, reply_to_id=target
            )
            return Reply.json({"id": new_id})
        assert target is not None
        if kind == "update":
            self._store(conversation_id, target, body)
            self._record(kind, verb, conversation_id, target, body, headers, at, path)
            return Reply.json({"id": target})
        # delete
        self.messages.pop((conversation_id, target), None)
        self._record(kind, verb, conversation_id, target, body, headers, at, path)
        return Reply(200, b"")

    def _create(
        self, verb: str, params: Json, headers: dict[str, str], at: float, path: str
    ) -> Reply:
        channel_data = params.get("channelData") or {}
        channel = (channel_data.get("channel") or {}).get("id")
        members = params.get("members") or []
        activity = params.get("activity")
        if channel:
            conversation_id = f"{channel};messageid={self._next_id()}"
        elif len(members) == 1 and isinstance(members[0], dict) and members[0].get("id"):
            tenant = (channel_data.get("tenant") or {}).get("id") or params.get("tenantId") or ""
            seed = f"{members[0]['id']}|{tenant}"
            conversation_id = f"a:1{_digest(seed, 48)}"
        else:
            return _connector_error(
                400, "BadArgument", "Either a channel or exactly one member is required."
            )
        self.conversations[conversation_id] = copy.deepcopy(params)
        response: Json = {"id": conversation_id, "serviceUrl": self.service_url}
        activity_id: str | None = None
        if isinstance(activity, dict):
            activity_id = conversation_id.rsplit("=", 1)[-1] if channel else self._next_id()
            response["activityId"] = activity_id
            self._store(conversation_id, activity_id, activity)
        self._record(
            "create",
            verb,
            conversation_id,
            activity_id,
            activity if isinstance(activity, dict) else {},
            headers,
            at,
            path,
        )
        return Reply.json(response, 201)

    def _members(self, rest: list[str]) -> Reply:
        root = _root(rest[0])
        if root not in self.members:
            return _connector_error(404, *_CONNECTOR_ERRORS[404])
        roster = copy.deepcopy(self.members[root])
        if len(rest) == 3:
            for member in roster:
                if rest[2] in (member.get("id"), member.get("aadObjectId")):
                    return Reply.json(member)
            return _connector_error(404, "MemberNotFoundInConversation", "Member not found.")
        if rest[1] == "pagedmembers":
            return Reply.json({"members": roster})
        return Reply.json(roster)

    def _store(self, conversation_id: str, activity_id: str, body: Json) -> None:
        self.messages[(conversation_id, activity_id)] = {**copy.deepcopy(body), "id": activity_id}

    def _record(
        self,
        kind: str,
        verb: str,
        conversation_id: str,
        activity_id: str | None,
        body: Json,
        headers: dict[str, str],
        at: float,
        path: str,
        *,
        failed_with: int | None = None,
        reply_to_id: str | None = None,
    ) -> None:
        self._calls.append(
            Activity(
                kind=kind,
                verb=verb,
                conversation_id=conversation_id,
                activity_id=activity_id,
                body=copy.deepcopy(body),
                headers=headers,
                at=at,
                failed_with=failed_with,
                reply_to_id=reply_to_id,
                path=path,
            )
        )

    def _next_id(self) -> str:
        self._ids += 1
        return str(_EPOCH_MS + self._ids)


def _connector_kind(verb: str, rest: list[str]) -> str:
    """The route of a Bot Connector path (the segments after ``v3/conversations``)."""
    if not rest:
        return "create" if verb == "POST" else "unknown"
    if verb == "GET" and (
        (len(rest) in (2, 3) and rest[1] == "members")
        or (len(rest) == 2 and rest[1] == "pagedmembers")
    ):
        return "members"
    if len(rest) == 2 and rest[1] == "activities" and verb == "POST":
        return "send"
    if len(rest) == 3 and rest[1] == "activities" and rest[2]:
        return {"POST": "reply", "PUT": "update", "DELETE": "delete"}.get(verb, "unknown")
    return "unknown"


def _connector_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Reply:
    return Reply.json({"error": {"code": code, "message": message}}, status, headers)


def _oauth_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> Reply:
    return Reply.json(
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(m.group(1))]
            if (m := re.match(r"AADSTS(\d+)", description))
            else [],
            "trace_id": "00000000-0000-0000-0000-000000000000",
        },
        status,
        headers,
    )


def _failure_reply(failure: _Failure, style: str) -> Reply:
    headers: dict[str, str] = {}
    if failure.retry_after is not None:
        headers["Retry-After"] = f"{failure.retry_after:g}"
    status, body = failure.status, failure.body
    if body is not None:
        if isinstance(body, str):
            return Reply.text(body, status, headers)
        return Reply.json(body, status, headers)
    if style == "connector":
        code, message = _CONNECTOR_ERRORS.get(
            status, ("ServiceError", "An error occurred while processing the request.")
        )
        return _connector_error(status, code, message, headers)
    if style == "oauth":
        error = {
            400: "invalid_request",
            401: "invalid_client",
            429: "temporarily_unavailable",
        }.get(status, "server_error" if status >= 500 else "invalid_request")
        return _oauth_error(status, error, f"Scripted failure (HTTP {status}).", headers)
    return Reply.text(f"scripted failure (HTTP {status})", status, headers)


def _cards_of(body: Json) -> list[Json]:
    attachments = body.get("attachments") or []
    return [
        a["content"]
        for a in attachments
        if isinstance(a, dict) and a.get("contentType") == ADAPTIVE_CARD and a.get("content")
    ]


def _root(conversation_id: str) -> str:
    return conversation_id.split(";", 1)[0]


def _digest(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]
