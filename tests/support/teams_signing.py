"""A test issuer of Bot Framework tokens: RSA keys, their JWKS, and tokens signed with them.

The Bot Connector signs every activity it sends a bot with an RS256 JWT; the public keys
are published as a JWKS whose entries carry ``endorsements`` (the channels each key may
sign for).  Keys are generated once per test session (cached by name)::

    signed = token(aud="app-id", service_url="https://smba.trafficmanager.net/teams/")
    client.post("/api/messages", json=activity, headers=header(signed))

Also: :func:`unsigned_token` (``alg: none``), :func:`hs256_token` (HMAC with the public
key as the secret, the classic algorithm-confusion forgery) and :func:`foreign_token`
(signed by another key under the trusted key's ``kid``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"
KID = "steward-test-key-1"
DEFAULT_KEY = "default"


@functools.cache
def private_key(name: str = DEFAULT_KEY) -> rsa.RSAPrivateKey:
    """An RSA key, generated once per session for each ``name``."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def other_key() -> rsa.RSAPrivateKey:
    """A key nobody trusts (for forgeries)."""
    return private_key("other")


def public_pem(key: rsa.RSAPrivateKey | None = None) -> bytes:
    return (
        (key or private_key())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def jwk(
    *,
    key: rsa.RSAPrivateKey | None = None,
    kid: str = KID,
    endorsements: Iterable[str] | None = ("msteams",),
) -> dict[str, Any]:
    """The public half of ``key`` as a JWK, Bot Framework style (``endorsements`` omitted
    when None)."""
    public = (key or private_key()).public_key()
    data: dict[str, Any] = dict(RSAAlgorithm.to_jwk(public, as_dict=True))
    data.update(kid=kid, use="sig")
    if endorsements is not None:
        data["endorsements"] = list(endorsements)
    return data


def jwks(
    endorsements: Iterable[str] | None = ("msteams",),
    *,
    key: rsa.RSAPrivateKey | None = None,
    kid: str = KID,
) -> dict[str, Any]:
    """A JWKS with the one (default) key."""
    return {"keys": [jwk(key=key, kid=kid, endorsements=endorsements)]}


def claims(
    *,
    aud: str,
    iss: str = ISSUER,
    service_url: str | None = None,
    expires_in: float = 3600,
    not_before: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Bot Framework claims: ``serviceurl`` (when given), ``nbf`` (absolute epoch seconds;
    now by default), ``exp`` (now + ``expires_in``; negative for an expired token)."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "nbf": int(now if not_before is None else not_before),
        "exp": int(now + expires_in),
    }
    if service_url is not None:
        payload["serviceurl"] = service_url
    payload.update(extra or {})
    return payload


def token(
    *,
    aud: str,
    iss: str = ISSUER,
    service_url: str | None = None,
    expires_in: float = 3600,
    not_before: float | None = None,
    key: rsa.RSAPrivateKey | None = None,
    kid: str | None = None,
    alg: str = "RS256",
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A token signed with ``key`` (the default key) under ``kid`` (``KID``)."""
    payload = claims(
        aud=aud,
        iss=iss,
        service_url=service_url,
        expires_in=expires_in,
        not_before=not_before,
        extra=extra,
    )
    return jwt.encode(
        payload, key or private_key(), algorithm=alg, headers={"kid": kid or KID, "typ": "JWT"}
    )


def unsigned_token(*, aud: str, kid: str = KID, **kwargs: Any) -> str:
    """``alg: none``, no signature: what a forger sends hoping nobody checks."""
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{_b64json(header)}.{_b64json(claims(aud=aud, **kwargs))}."


def hs256_token(*, aud: str, kid: str = KID, secret: bytes | None = None, **kwargs: Any) -> str:
    """HS256 signed with the trusted public key's PEM as the HMAC secret (algorithm
    confusion: a verifier that lets the token choose the algorithm would accept it)."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{_b64json(header)}.{_b64json(claims(aud=aud, **kwargs))}"
    digest = hmac.new(secret or public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


def foreign_token(*, aud: str, kid: str = KID, **kwargs: Any) -> str:
    """Signed by a key nobody trusts, under the trusted key's ``kid``."""
    return token(aud=aud, kid=kid, key=other_key(), **kwargs)


def header(signed: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed}"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64json(data: Mapping[str, Any]) -> str:
    return _b64(json.dumps(data, separators=(",", ":")).encode())
