"""Bot Framework authentication, both ways.

Inbound: :class:`BotFrameworkAuth` checks the ``Authorization: Bearer <JWT>`` the Bot
Connector sends with every activity, following "Authenticate requests from the Bot
Connector service to your bot": the token is RS256-signed by a key published in the JWKS
that the OpenID metadata document points at; its audience is our app id, its issuer the
Bot Framework; it is within its validity window (5 minutes of clock skew allowed); the
signing key is endorsed for the activity's channel; and its ``serviceurl`` claim names the
service URL the activity came with (so a token cannot be replayed to send us elsewhere).
The metadata and keys are cached a day and refetched early when a token names a key we do
not know, at most once per five minutes per unknown key (and once per ten seconds overall),
so a stream of forged key ids cannot turn into a stream of fetches.

Outbound: :class:`ConnectorTokens` gets the app's own token for calls to the Bot Connector
by OAuth2 client credentials, and keeps it until five minutes before it expires.

The SDK's own validator is not used: it hard-codes the metadata URLs (tests and sovereign
clouds need them configurable) and does not check the service URL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

log = logging.getLogger(__name__)

BOT_FRAMEWORK_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"

HTTP_TIMEOUT = 10.0  # seconds, for every fetch
KEYS_TTL = 24 * 3600.0  # how long metadata and keys are trusted without asking again
UNKNOWN_KID_INTERVAL = 300.0  # at most one early refetch per unknown key id in this time
FORCED_REFRESH_INTERVAL = 10.0  # and at most one early refetch overall in this time
FAILED_REFRESH_BACKOFF = 300.0  # after a failed refetch, keep the old keys this long
TOKEN_REFRESH_MARGIN = 300.0  # get a new connector token this long before expiry
TOKEN_RETRY_INTERVAL = 30.0  # when renewing fails, keep the old token and retry after this

_ALGORITHM = "RS256"
_MAX_TRACKED_KIDS = 1024


class Unauthorized(Exception):
    """A request's Bot Framework token was missing or not acceptable.

    ``reason`` is short and safe to log; it never contains the token.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _FetchError(Exception):
    """Metadata or keys could not be fetched (the message is safe to log)."""


@dataclass(frozen=True, slots=True)
class _SigningKey:
    key: jwt.PyJWK
    endorsements: frozenset[str] | None  # None: the key names no channels


class BotFrameworkAuth:
    """Validates the Bot Framework tokens on inbound activities; see the module docstring.

    ``clock`` (monotonic seconds) drives the caches only; token times are checked against
    the wall clock, as they must be.
    """

    def __init__(
        self,
        *,
        app_id: str,
        openid_metadata_url: str = BOT_FRAMEWORK_METADATA_URL,
        issuers: Sequence[str] = (BOT_FRAMEWORK_ISSUER,),
        channel: str = "msteams",
        leeway: float = 300.0,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not app_id:
            raise ValueError("app_id is required to check Bot Framework tokens")
        if isinstance(issuers, str):
            issuers = (issuers,)
        self.app_id = app_id
        self.openid_metadata_url = openid_metadata_url
        self.issuers = tuple(issuers)
        self.channel = channel
        self.leeway = leeway
        self._http = http
        self._clock = clock
        self._lock = asyncio.Lock()
        self._keys: dict[str, _SigningKey] = {}
        self._keys_expire_at: float | None = None  # None: never fetched
        self._unknown_kids: dict[str, float] = {}  # kid -> when it last caused a refetch
        self._last_forced: float | None = None

    async def validate(
        self, authorization: str | None, *, service_url: str | None, channel_id: str | None
    ) -> dict[str, Any]:
        """The verified claims of the token in ``authorization``, or :class:`Unauthorized`.

        ``service_url`` and ``channel_id`` are the activity's ``serviceUrl`` and
        ``channelId``; without a channel id, the endorsement is checked for ``channel``.
        """
        token = _bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        alg = header.get("alg")
        if alg != _ALGORITHM:
            # Never "none", never HS256 (a public key is no secret), nothing but RS256.
            raise Unauthorized(f"algorithm not allowed: {str(alg)[:16]!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("no key id")
        signing_key = await self._signing_key(kid)
        if signing_key is None:
            raise Unauthorized("unknown signing key")
        claims = self._decode(token, signing_key.key)
        channel = channel_id or self.channel
        if signing_key.endorsements is not None and channel not in signing_key.endorsements:
            raise Unauthorized("channel not endorsed")
        if service_url:
            claimed = claims.get("serviceurl", claims.get("serviceUrl"))
            if not isinstance(claimed, str) or not claimed:
                raise Unauthorized("service url missing from token")
            if _normal_url(claimed) != _normal_url(service_url):
                raise Unauthorized("service url mismatch")
        return claims

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                audience=self.app_id,
                issuer=self.issuers,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized("bad signature") from None
        except jwt.ExpiredSignatureError:
            raise Unauthorized("expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("not yet valid") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("wrong issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"missing {exc.claim} claim") from None
        except jwt.InvalidAlgorithmError:
            raise Unauthorized("algorithm not allowed") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token ({type(exc).__name__})") from None
        return claims

    async def _signing_key(self, kid: str) -> _SigningKey | None:
        """The key ``kid`` names, fetching metadata and keys when stale or when it is new."""
        found = self._keys.get(kid)
        if found is not None and not self._stale(self._clock()):
            return found
        async with self._lock:
            now = self._clock()
            if self._stale(now):
                await self._refresh(now, forced=False)
            elif kid not in self._keys and self._may_refetch_for(kid, now):
                log.info("bot framework signing key %r unknown: fetching the keys again", kid[:64])
                await self._refresh(now, forced=True)
            return self._keys.get(kid)

    def _stale(self, now: float) -> bool:
        return self._keys_expire_at is None or now >= self._keys_expire_at

    def _may_refetch_for(self, kid: str, now: float) -> bool:
        """Whether an unknown ``kid`` may trigger a refetch now (and note that it did)."""
        last = self._unknown_kids.get(kid)
        if last is not None and now - last < UNKNOWN_KID_INTERVAL:
            return False
        if self._last_forced is not None and now - self._last_forced < FORCED_REFRESH_INTERVAL:
            return False
        self._unknown_kids = {
            k: t for k, t in self._unknown_kids.items() if now - t < UNKNOWN_KID_INTERVAL
        }
        if len(self._unknown_kids) >= _MAX_TRACKED_KIDS:
            return False
        self._unknown_kids[kid] = now
        self._last_forced = now
        return True

    async def _refresh(self, now: float, *, forced: bool) -> None:
        """Fetch the metadata and the keys (holding the lock). On failure, keep what we had."""
        try:
            metadata = await self._get_json(self.openid_metadata_url)
            jwks_uri = metadata.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri:
                raise _FetchError("OpenID metadata has no jwks_uri")
            keys = _parse_jwks(await self._get_json(jwks_uri))
        except _FetchError as exc:
            if not self._keys:
                log.error("bot framework signing keys unavailable: %s", exc)
                raise Unauthorized("signing keys unavailable") from None
            log.warning("bot framework signing keys not refreshed, keeping the old ones: %s", exc)
            if not forced:
                self._keys_expire_at = now + FAILED_REFRESH_BACKOFF
            return
        self._keys = keys
        self._keys_expire_at = now + KEYS_TTL
        log.debug("bot framework signing keys fetched: %s", sorted(keys))

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            if self._http is not None:
                response = await self._http.get(url, timeout=HTTP_TIMEOUT)
            else:
                async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                    response = await client.get(url)
        except httpx.HTTPError as exc:
            raise _FetchError(f"GET {url}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise _FetchError(f"GET {url}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise _FetchError(f"GET {url}: not JSON") from None
        if not isinstance(data, dict):
            raise _FetchError(f"GET {url}: not a JSON object")
        return data


def _bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.strip():
        raise Unauthorized("missing token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("not a bearer token")
    token = token.strip()
    if not token:
        raise Unauthorized("missing token")
    return token


def _parse_jwks(data: dict[str, Any]) -> dict[str, _SigningKey]:
    entries = data.get("keys")
    if not isinstance(entries, list):
        raise _FetchError("JWKS has no keys")
    keys: dict[str, _SigningKey] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry, algorithm=_ALGORITHM)
        except jwt.PyJWTError as exc:
            log.warning("bot framework signing key %r skipped: %s", kid, exc)
            continue
        raw = entry.get("endorsements")
        endorsements = frozenset(str(e) for e in raw) if isinstance(raw, list | tuple) else None
        keys[kid] = _SigningKey(key, endorsements)
    return keys


def _normal_url(url: str) -> tuple[str, str, str, str]:
    """A URL for comparison: scheme and host without case, path without trailing slash."""
    parts = urlsplit(url.strip())
    return (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query)


class ConnectorAuthError(Exception):
    """The token endpoint refused to give the app a token for the Bot Connector.

    ``error`` and ``description`` are the endpoint's (OAuth2 ``error``,
    ``error_description``); the app password is never part of the message.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        error: str | None,
        description: str | None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.description = description
        self.retry_after = retry_after  # seconds, when the endpoint sent Retry-After


class ConnectorTokens:
    """The app's token for calls to the Bot Connector (OAuth2 client credentials).

    A token is kept until five minutes before it expires (half its lifetime when that is
    shorter); one fetch at a time, however many callers wait for it.  When renewing fails
    while the old token is still valid, the old one is used and renewal retried 30 s later;
    without a usable token, :class:`ConnectorAuthError`.
    """

    def __init__(
        self,
        *,
        app_id: str,
        app_password: str,
        tenant_id: str = "botframework.com",
        token_url: str | None = None,
        scope: str = BOT_FRAMEWORK_SCOPE,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app_id = app_id
        self._password = app_password
        self.tenant_id = tenant_id
        self.token_url = (
            token_url or f"https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"
        )
        self.scope = scope
        self._http = http
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"ConnectorTokens(app_id={self.app_id!r}, token_url={self.token_url!r})"

    async def token(self) -> str:
        """A valid access token, fetched when there is none or it is about to expire."""
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        async with self._lock:
            now = self._clock()
            if self._token is not None and now < self._refresh_at:
                return self._token
            try:
                token, expires_in = await self._fetch()
            except ConnectorAuthError as exc:
                if self._token is None or now + TOKEN_RETRY_INTERVAL >= self._expires_at:
                    raise
                log.warning("bot connector token not renewed, using the current one: %s", exc)
                self._refresh_at = now + TOKEN_RETRY_INTERVAL
                return self._token
            self._token = token
            self._expires_at = now + expires_in
            margin = min(TOKEN_REFRESH_MARGIN, expires_in / 2)
            self._refresh_at = now + expires_in - margin
            return token

    def invalidate(self) -> None:
        """Forget the cached token (after the Bot Connector refused it)."""
        self._token = None
        self._refresh_at = self._expires_at = 0.0

    async def _fetch(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self._password,
            "scope": self.scope,
        }
        try:
            if self._http is not None:
                response = await self._http.post(self.token_url, data=form, timeout=HTTP_TIMEOUT)
            else:
                async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                    response = await client.post(self.token_url, data=form)
        except httpx.HTTPError as exc:
            raise ConnectorAuthError(
                self._scrub(f"token request to {self.token_url} failed: {type(exc).__name__}"),
                status=None,
                error=None,
                description=None,
            ) from None
        try:
            data: Any = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {}
        if response.status_code != 200:
            error = _text(data.get("error"))
            description = _text(data.get("error_description"))
            detail = ": ".join(part for part in (error, description) if part) or "no details"
            raise ConnectorAuthError(
                self._scrub(
                    f"token request for app {self.app_id} refused "
                    f"(HTTP {response.status_code}): {detail}"
                ),
                status=response.status_code,
                error=self._scrub(error) if error else None,
                description=self._scrub(description) if description else None,
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise ConnectorAuthError(
                f"token response for app {self.app_id} has no access_token",
                status=response.status_code,
                error=None,
                description=None,
            )
        try:
            expires_in = float(data.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600.0
        return token, max(0.0, expires_in)

    def _scrub(self, text: str) -> str:
        return text.replace(self._password, "***") if self._password else text


def _retry_after(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return str(value)[:500] if value not in (None, "") else None
