"""A loopback fake of the Slack Web API, in the style of bolt-python's ``mock_web_api_server``.

``FakeSlack`` runs a real HTTP server on 127.0.0.1 (random port) in a daemon thread, so the real
``slack_sdk`` clients (``WebClient``, ``AsyncWebClient``, ``WebhookClient``) talk to it over
loopback exactly as they would talk to Slack::

    with FakeSlack() as slack:
        slack.add_channel("C1", name="acme-cs", ext_shared=True)
        client = WebClient(token=slack.bot_token, base_url=slack.base_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert slack.calls_to("chat.postMessage")[0].params["text"] == "hi"

What it serves:

- ``/api/<method>`` (GET or POST; query string, urlencoded, JSON and multipart bodies) with the
  bot token checked on every call; every call is recorded in ``.calls``.  ``conversations.members``
  pages through ``members`` (``limit``/``cursor``, as Slack does); the bot user ``UBOT`` is known
  to ``users.info`` and is a member of every conversation added.
- ``/upload/<file_id>``, the upload URL handed out by ``files.getUploadURLExternal``.
- ``/response/<name>``, a fake ``response_url`` (see ``response_url()``); the JSON bodies posted
  there land in ``.responses[name]``.

Scripted failures (``fail_next``) cover rate limits and server errors.  All state is guarded by
one re-entrant lock with a condition variable, so tests can block on ``wait_for_calls`` /
``wait_for_responses`` instead of sleeping.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import mimetypes
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.support.fakes.loopback import LoopbackFake, Reply

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "A0STEWARD"
EXTERNAL_TEAM_ID = "T0EXTERNAL"
_EPOCH = 1_700_000_000

# Parameters slack_sdk JSON-encodes into form bodies; recorded decoded.
_JSON_PARAMS = frozenset(
    {"blocks", "attachments", "metadata", "files", "unfurls", "outputs", "view"}
)

Json = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One request the fake received.

    ``method`` is the API method (``chat.postMessage``), the response name for ``response_url``
    posts, or ``"upload"`` for file-content uploads.  ``headers`` keys are lower-cased.
    ``failed_with`` is the HTTP status when the request was answered by a scripted failure.
    ``response`` is what the fake answered (decoded JSON, or text).
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    failed_with: int | None = None
    http_method: str = "POST"
    path: str = ""
    response: Any = None


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: int | None
    body: Json | str | bytes | None


class _BadRequestError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class FakeSlack(LoopbackFake):
    """A fake Slack Web API on loopback.  See the module docstring.

    Data tests set up (plain dicts; mutate them directly or use the ``add_*`` helpers):
    ``channels`` (id -> conversation object), ``members`` (conversation id -> user ids),
    ``users`` (id -> user object), ``usergroups`` (id -> list of user ids), ``messages``
    ((channel, ts) -> message, filled by chat.postMessage).

    Records: ``calls`` (API calls), ``response_calls`` (response_url posts, failed ones too),
    ``responses`` (name -> decoded JSON bodies that were accepted), ``upload_calls`` and
    ``uploads`` (file id -> {"bytes", "filename", "title", "channel_id", ...}), ``errors``
    (exceptions raised inside the fake itself; it answers those with HTTP 500).
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        team_id: str = "T0STEWARD",
        team_name: str = "Steward Test",
        team_domain: str = "steward-test",
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain

        self.channels: dict[str, Json] = {}
        self.members: dict[str, list[str]] = {}
        self.users: dict[str, Json] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.messages: dict[tuple[str, str], Json] = {}
        self.uploads: dict[str, Json] = {}

        self.calls: list[Call] = []
        self.response_calls: list[Call] = []
        self.responses: defaultdict[str, list[Any]] = defaultdict(list)
        self.upload_calls: list[Call] = []

        # OAuth: apps (client id -> secret), codes waiting for oauth.v2.access (code ->
        # the installation it yields), and every workspace's bot token (token -> team id).
        self.oauth_apps: dict[str, str] = {}
        self.oauth_codes: dict[str, Json] = {}
        self.tokens: dict[str, str] = {bot_token: team_id}
        self.refresh_tokens: dict[str, str] = {}  # token rotation: refresh token -> team id
        self.rotations = 0
        self.views: dict[str, Json] = {}  # user id -> the App Home view published for them
        self._caller_team = team_id
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._outage: _Failure | None = None  # every API call and response_url post fails
        # Slack refuses image blocks whose file it has not finished processing
        # ("invalid_blocks"); tests set how many such posts to refuse.
        self.refuse_slack_files = 0
        self._ts_counter = 0
        self.clock: float | None = None  # set: new messages' ts count from this Unix time
        self._file_counter = 0
        self._methods: dict[str, Callable[[Json], Json]] = {
            "auth.test": self._auth_test,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "conversations.history": self._conversations_history,
            "users.lookupByEmail": self._users_lookup_by_email,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.info": self._files_info,
            "oauth.v2.access": self._oauth_v2_access,
            "views.publish": self._views_publish,
        }
        self.add_user(BOT_USER_ID, name="steward", is_bot=True)

    @property
    def base_url(self) -> str:
        """The value for ``WebClient(base_url=...)``: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.url}/api/"

    def response_url(self, name: str) -> str:
        """A fake ``response_url``; JSON posted there is recorded in ``responses[name]``."""
        return f"{self.url}/response/{name}"

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        ext_shared: bool = False,
        im_user: str | None = None,
        private: bool = False,
        members: Iterable[str] = (),
        **extra: Any,
    ) -> Json:
        """Register a conversation for ``conversations.info``: a DM when ``im_user`` is given,
        else a (private or public, optionally Slack Connect) channel.  ``extra`` overrides.
        ``conversations.members`` lists ``members`` and Steward (and the DM's user)."""
        with self._lock:
            if im_user is not None:
                channel = self._im_object(channel_id, im_user)
                members = [im_user, *members]
            else:
                channel = self._channel_object(channel_id, name, ext_shared, private)
            channel.update(extra)
            self.channels[channel_id] = channel
            self.members[channel_id] = [*members, BOT_USER_ID]
            return channel

    def add_group_dm(self, channel_id: str, members: Iterable[str]) -> Json:
        """Register a group DM (``is_mpim``) between ``members`` and Steward."""
        return self.add_channel(
            channel_id,
            name=f"mpdm-{channel_id.lower()}",
            private=True,
            members=members,
            is_channel=False,
            is_group=True,
            is_mpim=True,
        )

    def add_member(self, channel_id: str, user_id: str) -> None:
        """Someone joins a conversation."""
        with self._lock:
            self.members.setdefault(channel_id, [BOT_USER_ID]).append(user_id)

    def add_user(
        self,
        user_id: str,
        *,
        team_id: str | None = None,
        restricted: bool = False,
        ultra_restricted: bool = False,
        name: str | None = None,
        email: str | None = None,
        **extra: Any,
    ) -> Json:
        """Register a user for ``users.info``.  As in Slack, a single-channel guest
        (``ultra_restricted``) is also ``is_restricted``.  ``extra`` overrides top-level keys."""
        team = team_id or self.team_id
        handle = name or f"user-{user_id.lower()}"
        real_name = handle.replace("-", " ").replace(".", " ").title()
        profile: Json = {
            "title": "",
            "phone": "",
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": handle,
            "display_name_normalized": handle,
            "status_text": "",
            "status_emoji": "",
            "image_72": f"https://avatars.slack-edge.com/{user_id}_72.png",
            "team": team,
        }
        if email is not None:
            profile["email"] = email
        user: Json = {
            "id": user_id,
            "team_id": team,
            "name": handle,
            "deleted": False,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": "America/New_York",
            "tz_label": "Eastern Standard Time",
            "tz_offset": -18000,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": restricted or ultra_restricted,
            "is_ultra_restricted": ultra_restricted,
            "is_bot": False,
            "is_app_user": False,
            "updated": _EPOCH,
            "is_email_confirmed": True,
            "who_can_share_contact_card": "EVERYONE",
        }
        user.update(extra)
        with self._lock:
            self.users[user_id] = user
        return user

    def add_usergroup(self, group_id: str, user_ids: Iterable[str]) -> None:
        with self._lock:
            self.usergroups[group_id] = list(user_ids)

    def fail_next(
        self,
        method_or_path: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        body: Json | str | bytes | None = None,
    ) -> None:
        """Answer the next ``times`` requests to an API method (``"chat.postMessage"``), a
        response_url name, or ``"upload"`` (file-content uploads) with ``status``.  A 429 carries
        ``Retry-After: retry_after``; API failures default to Slack's JSON error bodies
        (``ratelimited`` / ``internal_error``).  Exact paths (``"/api/auth.test"``,
        ``"/response/<name>"``, ``"/upload/<file_id>"``) work too.  Repeated calls queue up."""
        if times < 1:
            raise ValueError("times must be >= 1")
        failure = _Failure(status, retry_after if status == 429 else None, body)
        with self._lock:
            self._failures[method_or_path].extend([failure] * times)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for_calls(self, method: str, count: int, timeout: float = 10.0) -> list[Call]:
        """Block until at least ``count`` calls to ``method`` (failed ones included) arrived."""
        with self._cond:
            arrived = self._cond.wait_for(lambda: len(self.calls_to(method)) >= count, timeout)
            calls = self.calls_to(method)
            if not arrived:
                seen = [c.method for c in self.calls]
                raise AssertionError(
                    f"expected {count} call(s) to {method} within {timeout}s, got {len(calls)}: "
                    f"{[c.params for c in calls]!r}; all calls so far: {seen!r}"
                )
            return calls

    def wait_for_responses(self, name: str, count: int, timeout: float = 10.0) -> list[Any]:
        """Block until at least ``count`` bodies were accepted at ``response_url(name)``."""
        with self._cond:
            arrived = self._cond.wait_for(
                lambda: len(self.responses.get(name, ())) >= count, timeout
            )
            got = list(self.responses.get(name, ()))
            if not arrived:
                raise AssertionError(
                    f"expected {count} response(s) at {name!r} within {timeout}s, "
                    f"got {len(got)}: {got!r}"
                )
            return got

    def _dispatch(self, verb: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        at = time.monotonic()
        split = urlsplit(raw_path)
        path = split.path
        if path.startswith("/api/"):
            return self._api(verb, path, split.query, headers, body, at)
        if path.startswith("/response/"):
            return self._response_post(verb, path, headers, body, at)
        if path.startswith("/upload/"):
            return self._upload(verb, path, headers, body, at)
        return Reply.text("not found", 404)

    def outage(self, status: int | None, retry_after: int | None = 1) -> None:
        """Answer every API call and response_url post with ``status`` (429 with
        Retry-After, or a 5xx) until called again with None: Slack having a bad minute."""
        with self._lock:
            self._outage = (
                None
                if status is None
                else _Failure(status, retry_after if status == 429 else None, None)
            )

    def _take_failure(self, keys: Iterable[str]) -> _Failure | None:
        if self._outage is not None:
            return self._outage
        for key in keys:
            queue = self._failures.get(key)
            if queue:
                return queue.popleft()
        return None

    def _api(
        self, verb: str, path: str, query: str, headers: dict[str, str], body: bytes, at: float
    ) -> Reply:
        method = path.removeprefix("/api/")
        failed_with: int | None = None
        parse_error: str | None = None
        try:
            params: Json = dict(parse_qsl(query, keep_blank_values=True))
            params.update(_parse_body(headers.get("content-type", ""), body))
            params = _decode_json_params(params)
        except _BadRequestError as exc:
            params, parse_error = {"_raw_body": body}, exc.error
        with self._cond:
            failure = self._take_failure([path, method])
            if failure is not None:
                failed_with = failure.status
                reply = _failure_reply(failure, api=True)
                response: Any = _decoded(reply)
            else:
                token = headers.get("authorization", "").removeprefix("Bearer ")
                if method == "oauth.v2.access":
                    response = self._oauth_v2_access({**params, "_auth": headers})
                elif token not in self.tokens:
                    response = {"ok": False, "error": "invalid_auth"}
                elif parse_error is not None:
                    response = {"ok": False, "error": parse_error}
                elif (handler := self._methods.get(method)) is not None:
                    self._caller_team = self.tokens[token]
                    response = handler(params)
                else:
                    response = {"ok": False, "error": "unknown_method"}
                reply = Reply.json(response)
            self.calls.append(
                Call(
                    method=method,
                    params=params,
                    headers=headers,
                    at=at,
                    failed_with=failed_with,
                    http_method=verb,
                    path=path,
                    response=copy.deepcopy(response),
                )
            )
            self._cond.notify_all()
        return reply

    def _response_post(
        self, verb: str, path: str, headers: dict[str, str], body: bytes, at: float
    ) -> Reply:
        name = unquote(path.removeprefix("/response/"))
        try:
            payload: Any = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = None
        with self._cond:
            failure = self._take_failure([path, name])
            failed_with: int | None = None
            if failure is not None:
                failed_with = failure.status
                reply = _failure_reply(failure, api=False)
            elif verb != "POST":
                failed_with, reply = 405, Reply.text("method_not_allowed", 405)
            elif not isinstance(payload, dict):
                failed_with, reply = 400, Reply.text("invalid_payload", 400)
            elif self.refuse_slack_files and "slack_file" in json.dumps(payload):
                self.refuse_slack_files -= 1
                failed_with, reply = 400, Reply.text("invalid_blocks", 400)
            else:
                self.responses[name].append(payload)
                reply = Reply.text("ok")
            self.response_calls.append(
                Call(
                    method=name,
                    params=payload if isinstance(payload, dict) else {"_raw_body": body},
                    headers=headers,
                    at=at,
                    failed_with=failed_with,
                    http_method=verb,
                    path=path,
                    response=_decoded(reply),
                )
            )
            self._cond.notify_all()
        return reply

    def _upload(
        self, verb: str, path: str, headers: dict[str, str], body: bytes, at: float
    ) -> Reply:
        file_id = path.removeprefix("/upload/")
        content = body
        content_type = headers.get("content-type", "")
        if content_type.lower().startswith("multipart/form-data"):
            parts = _parse_multipart(content_type, body)
            files = [v for v in parts.values() if isinstance(v, bytes)]
            content = files[0] if files else b""
        with self._cond:
            failure = self._take_failure([path, "/upload", "upload"])
            failed_with: int | None = None
            if failure is not None:
                failed_with = failure.status
                reply = _failure_reply(failure, api=False)
            elif verb != "POST":
                failed_with, reply = 405, Reply.text("method_not_allowed", 405)
            elif file_id not in self.uploads:
                failed_with, reply = 404, Reply.text("file_not_found", 404)
            else:
                self.uploads[file_id]["bytes"] = content
                reply = Reply.text(f"OK - {len(content)}")
            self.upload_calls.append(
                Call(
                    method="upload",
                    params={"file_id": file_id, "size": len(content), "content_type": content_type},
                    headers=headers,
                    at=at,
                    failed_with=failed_with,
                    http_method=verb,
                    path=path,
                    response=_decoded(reply),
                )
            )
            self._cond.notify_all()
        return reply

    # All run with the lock held.

    def add_oauth_code(
        self, code: str, *, team_id: str, team_name: str, bot_token: str, **extra: Any
    ) -> None:
        """A code Slack would hand the browser after someone in ``team_id`` approved the
        install; oauth.v2.access exchanges it (once) for ``bot_token``.  ``extra`` adds
        fields to the answer (``refresh_token``, ``expires_in`` with token rotation)."""
        with self._lock:
            self.oauth_codes[code] = {
                "team_id": team_id,
                "team_name": team_name,
                "bot_token": bot_token,
                **extra,
            }

    def revoke_team(self, team_id: str) -> None:
        """The workspace uninstalled Steward: its tokens stop working."""
        with self._lock:
            for token in [t for t, team in self.tokens.items() if team == team_id]:
                del self.tokens[token]

    def _oauth_v2_access(self, params: Json) -> Json:
        """Slack's answer to a code exchange (client credentials by HTTP basic auth or form)."""
        auth = str((params.get("_auth") or {}).get("authorization", ""))
        client_id, secret = params.get("client_id"), params.get("client_secret")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if not client_id or self.oauth_apps.get(str(client_id)) != secret:
            return {"ok": False, "error": "invalid_client_id"}
        if params.get("grant_type") == "refresh_token":
            return self._refresh(str(params.get("refresh_token") or ""))
        grant = self.oauth_codes.pop(str(params.get("code") or ""), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        self.tokens[grant["bot_token"]] = grant["team_id"]
        answer: Json = {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": grant.get("installer", "U0INSTALLER")},
            "scope": grant.get("scope", "commands,chat:write"),
            "token_type": "bot",
            "access_token": grant["bot_token"],
            "bot_user_id": BOT_USER_ID,
            "team": {"id": grant["team_id"], "name": grant["team_name"]},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        for key in ("refresh_token", "expires_in"):
            if key in grant:
                answer[key] = grant[key]
        if "refresh_token" in grant:
            self.refresh_tokens[grant["refresh_token"]] = grant["team_id"]
        return answer

    def _refresh(self, refresh_token: str) -> Json:
        """Token rotation: a refresh token (used once) buys a new token for 12 hours."""
        team = self.refresh_tokens.pop(refresh_token, None)
        if team is None:
            return {"ok": False, "error": "invalid_refresh_token"}
        self.rotations += 1
        token = f"xoxe.xoxb-{team.lower()}-rotated-{self.rotations}"
        renewed = f"xoxe-1-{team.lower()}-refresh-{self.rotations}"
        self.tokens[token] = team
        self.refresh_tokens[renewed] = team
        return {
            "ok": True,
            "app_id": APP_ID,
            "token_type": "bot",
            "access_token": token,
            "refresh_token": renewed,
            "expires_in": 43200,
            "bot_user_id": BOT_USER_ID,
            "team": {"id": team},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _views_publish(self, params: Json) -> Json:
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        user = str(params.get("user_id") or "")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_blocks"}
        self.views[user] = view
        return {"ok": True, "view": {"id": f"V{user}", "type": "home", **view}}

    def _auth_test(self, params: Json) -> Json:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "steward",
            "team_id": self._caller_team,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _conversations_info(self, params: Json) -> Json:
        channel = self.channels.get(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": channel}

    def _conversations_open(self, params: Json) -> Json:
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            if params.get("channel"):
                channel = {"id": params["channel"]}
                return {"ok": True, "no_op": True, "already_open": True, "channel": channel}
            return {"ok": False, "error": "users_list_not_supplied"}
        if len(users) == 1:
            channel_id = _stable_id("D", users[0])
            already_open = channel_id in self.channels
            if not already_open:
                self.channels[channel_id] = self._im_object(channel_id, users[0])
                self.members[channel_id] = [users[0], BOT_USER_ID]
        else:
            channel_id = _stable_id("G", ",".join(sorted(users)))
            already_open = False
        response: Json = {"ok": True, "channel": {"id": channel_id}}
        if already_open:
            response.update(no_op=True, already_open=True)
        return response

    def _conversations_members(self, params: Json) -> Json:
        """One page of a conversation's member ids; the cursor is the next offset."""
        channel = str(params.get("channel") or "")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        members = self.members.get(channel, [])
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        start = int(params.get("cursor") or 0)
        end = start + limit
        next_cursor = str(end) if end < len(members) else ""
        return {
            "ok": True,
            "members": members[start:end],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _users_info(self, params: Json) -> Json:
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _usergroups_users_list(self, params: Json) -> Json:
        members = self.usergroups.get(str(params.get("usergroup", "")))
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(members)}

    def _message(self, params: Json, ts: str) -> Json:
        message: Json = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": params.get("text") or "",
            "ts": ts,
            "team": self.team_id,
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if params.get(key):
                message[key] = params[key]
        return message

    def _chat_post_message(self, params: Json) -> Json:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel.startswith(("U", "W")):  # a user id posts to the app's DM with them
            if channel not in self.users:
                return {"ok": False, "error": "channel_not_found"}
            channel = _stable_id("D", channel)
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message = self._message(params, ts)
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _conversations_history(self, params: Json) -> Json:
        """Newest first, after ``oldest``, a page of ``limit`` (at most 999) at a time with a
        ``cursor``; ``metadata`` only with ``include_all_metadata`` (as Slack does)."""
        channel = str(params.get("channel") or "")
        oldest = float(params.get("oldest") or 0)
        limit = min(int(params.get("limit") or 100), 999)
        start = int(params.get("cursor") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        found = sorted(
            (m for (c, ts), m in self.messages.items() if c == channel and float(ts) > oldest),
            key=lambda m: float(m["ts"]),
            reverse=True,
        )
        page = found[start : start + limit]
        shown = [{k: v for k, v in m.items() if with_metadata or k != "metadata"} for m in page]
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": shown,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _users_lookup_by_email(self, params: Json) -> Json:
        email = str(params.get("email") or "").lower()
        for user in self.users.values():
            if str((user.get("profile") or {}).get("email") or "").lower() == email:
                return {"ok": True, "user": user}
        return {"ok": False, "error": "users_not_found"}

    def _chat_post_ephemeral(self, params: Json) -> Json:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return {"ok": False, "error": "no_text"}
        # Slack answers chat.postEphemeral with message_ts only (no channel/ts/message).
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, params: Json) -> Json:
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        old = self.messages.get((channel, ts))
        if old is None:
            return {"ok": False, "error": "message_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return {"ok": False, "error": "no_text"}
        message = self._message(params, ts)
        if "thread_ts" in old:
            message["thread_ts"] = old["thread_ts"]
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        self.messages[(channel, ts)] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": {k: v for k, v in message.items() if k != "ts"},
        }

    def _files_get_upload_url_external(self, params: Json) -> Json:
        filename = params.get("filename")
        try:
            length = int(params.get("length", ""))
        except (TypeError, ValueError):
            return {"ok": False, "error": "invalid_arguments"}
        if not filename or length < 0:
            return {"ok": False, "error": "invalid_arguments"}
        self._file_counter += 1
        file_id = f"F0STW{self._file_counter:06d}"
        self.uploads[file_id] = {
            "bytes": None,
            "filename": str(filename),
            "length": length,
            "alt_txt": params.get("alt_txt"),
            "title": None,
            "channel_id": None,
            "channels": [],
            "initial_comment": None,
            "thread_ts": None,
            "share_ts": None,
            "completed": False,
        }
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, params: Json) -> Json:
        files = params.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        for item in files:
            if not isinstance(item, dict) or not item.get("id"):
                return {"ok": False, "error": "invalid_arguments"}
            upload = self.uploads.get(str(item["id"]))
            if upload is None or upload["bytes"] is None:
                return {"ok": False, "error": "file_not_found"}
        channels = [c for c in str(params.get("channels") or "").split(",") if c]
        if params.get("channel_id"):
            channels.insert(0, str(params["channel_id"]))
        result = []
        for item in files:
            upload = self.uploads[str(item["id"])]
            upload.update(
                title=item.get("title") or upload["filename"],
                channel_id=params.get("channel_id"),
                channels=channels,
                initial_comment=params.get("initial_comment"),
                thread_ts=params.get("thread_ts"),
                share_ts=self._next_ts() if channels else None,
                completed=True,
            )
            # Sharing happens asynchronously in Slack: the completion lists no channels yet.
            result.append(self._file_object(str(item["id"]), shared=False))
        return {"ok": True, "files": result}

    def _files_info(self, params: Json) -> Json:
        file_id = str(params.get("file") or "")
        upload = self.uploads.get(file_id)
        if upload is None or not upload["completed"]:
            return {"ok": False, "error": "file_not_found"}
        return {
            "ok": True,
            "file": self._file_object(file_id, shared=True),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    def _next_ts(self) -> str:
        self._ts_counter += 1
        micros = self._ts_counter * 100
        if self.clock is not None:  # a message posted "now", as a test's clock says
            micros += int(self.clock * 1_000_000)
            return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
        return f"{_EPOCH + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _channel_object(
        self, channel_id: str, name: str | None, ext_shared: bool, private: bool
    ) -> Json:
        name = name or f"channel-{channel_id.lower()}"
        return {
            "id": channel_id,
            "name": name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": private,
            "created": _EPOCH,
            "is_archived": False,
            "is_general": False,
            "unlinked": 0,
            "name_normalized": name,
            "is_shared": ext_shared,
            "is_org_shared": False,
            "is_ext_shared": ext_shared,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": self.team_id,
            "updated": _EPOCH * 1000,
            "parent_conversation": None,
            "creator": "U0CREATOR",
            "shared_team_ids": [self.team_id, EXTERNAL_TEAM_ID] if ext_shared else [self.team_id],
            "is_member": True,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }

    def _im_object(self, channel_id: str, user_id: str) -> Json:
        return {
            "id": channel_id,
            "created": _EPOCH,
            "is_archived": False,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": self.team_id,
            "updated": _EPOCH * 1000,
            "user": user_id,
            "is_user_deleted": False,
            "priority": 0,
        }

    def _file_object(self, file_id: str, *, shared: bool) -> Json:
        upload = self.uploads[file_id]
        name = upload["filename"]
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        url_private = f"https://files.slack.com/files-pri/{self.team_id}-{file_id}/{name}"
        obj: Json = {
            "id": file_id,
            "created": _EPOCH,
            "timestamp": _EPOCH,
            "name": name,
            "title": upload["title"] or name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": BOT_USER_ID,
            "user_team": self.team_id,
            "editable": False,
            "size": len(upload["bytes"] or b""),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": url_private,
            "url_private_download": url_private.replace("/files-pri/", "/files-pri/download/"),
            "permalink": f"https://{self.team_domain}.slack.com/files/{BOT_USER_ID}/{file_id}/{name}",
            "permalink_public": f"https://slack-files.com/{self.team_id}-{file_id}-0000000000",
            "comments_count": 0,
            "is_starred": False,
            "shares": {},
            "channels": [],
            "groups": [],
            "ims": [],
            "has_more_shares": False,
            "has_rich_preview": False,
            "file_access": "visible",
        }
        if upload.get("alt_txt"):
            obj["alt_txt"] = upload["alt_txt"]
        if shared and upload["channels"]:
            shares: dict[str, Json] = {}
            for channel_id in upload["channels"]:
                channel = self.channels.get(channel_id, {})
                private = bool(channel.get("is_private") or channel.get("is_im"))
                kind = "ims" if channel.get("is_im") else "groups" if private else "channels"
                obj[kind].append(channel_id)
                share: Json = {"reply_users": [], "reply_count": 0, "ts": upload["share_ts"]}
                if upload["thread_ts"]:
                    share["thread_ts"] = upload["thread_ts"]
                shares.setdefault("private" if private else "public", {})[channel_id] = [share]
            obj["shares"] = shares
        return obj


def _header_params(content_type: str) -> Message:
    msg = Message()
    msg["content-type"] = content_type
    return msg


def _parse_body(content_type: str, body: bytes) -> Json:
    if not body:
        return {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _BadRequestError("invalid_json") from None
        if not isinstance(data, dict):
            raise _BadRequestError("invalid_json")
        return data
    if kind == "multipart/form-data":
        return _parse_multipart(content_type, body)
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        raise _BadRequestError("invalid_form_data") from None


def _parse_multipart(content_type: str, body: bytes) -> Json:
    """Text fields become ``str``; parts with a filename become ``bytes``."""
    boundary = _header_params(content_type).get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise _BadRequestError("invalid_form_data")
    params: Json = {}
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        head, sep, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise _BadRequestError("invalid_form_data")
        content = content.removesuffix(b"\r\n")
        disposition = Message()
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            disposition[key.strip()] = value.strip()
        field_name = disposition.get_param("name", header="content-disposition")
        if not isinstance(field_name, str):
            raise _BadRequestError("invalid_form_data")
        if disposition.get_filename() is not None:
            params[field_name] = content
        else:
            charset = _header_params(disposition.get("content-type", "text/plain")).get_param(
                "charset", "utf-8"
            )
            params[field_name] = content.decode(str(charset), errors="replace")
    return params


def _decode_json_params(params: Json) -> Json:
    decoded = dict(params)
    for key in _JSON_PARAMS & decoded.keys():
        value = decoded[key]
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            try:
                decoded[key] = json.loads(value)
            except json.JSONDecodeError:
                raise _BadRequestError(f"invalid_{key}") from None
    return decoded


def _failure_reply(failure: _Failure, *, api: bool) -> Reply:
    headers = {}
    if failure.status == 429 and failure.retry_after is not None:
        headers["Retry-After"] = str(failure.retry_after)
    body = failure.body
    if body is None:
        error = (
            "ratelimited"
            if failure.status == 429
            else "internal_error"
            if failure.status >= 500
            else "invalid_request"
        )
        body = {"ok": False, "error": error} if api else error
    if isinstance(body, dict):
        return Reply.json(body, failure.status, headers)
    raw = body.encode() if isinstance(body, str) else body
    return Reply(failure.status, raw, "text/plain; charset=utf-8", headers)


def _decoded(reply: Reply) -> Any:
    text = reply.body.decode("utf-8", errors="replace")
    if reply.content_type.startswith("application/json"):
        return json.loads(text)
    return text


def _stable_id(prefix: str, seed: str) -> str:
    return prefix + hashlib.sha256(seed.encode()).hexdigest()[:10].upper()
