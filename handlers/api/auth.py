"""Who may send and read: Standard Webhooks signatures or bearer tokens."""

from __future__ import annotations

import binascii
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from handlers.api.errors import RejectedPayload

MAX_DELIVERY_ID_LENGTH = 255
_SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class Unauthorized(Exception):
    """The request carries no valid credentials; the message says which check failed."""


@dataclass(frozen=True)
class Caller:
    """An authenticated request: how it proved itself and its delivery key, if any."""

    method: str
    delivery_id: str | None


class Authenticator:
    """Checks webhook signatures against every active secret, and bearer tokens."""

    def __init__(self, webhook_secrets: Sequence[str], api_tokens: Sequence[str]) -> None:
        self._webhooks = [Webhook(secret) for secret in webhook_secrets]
        self._tokens = [token.encode() for token in api_tokens]

    @property
    def configured(self) -> bool:
        return bool(self._webhooks or self._tokens)

    def authenticate(
        self, headers: Mapping[str, str], body: bytes, *, allow_signature: bool = True
    ) -> Caller:
        """Return the caller, or raise Unauthorized saying why.

        Args:
            headers: request headers; names are matched case-insensitively.
            body: the raw request body, exactly as received (signatures cover its bytes).
            allow_signature: False for reads, which need a bearer token.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        if not self.configured:
            raise Unauthorized(
                "this Steward accepts no requests: "
                "set STEWARD_WEBHOOK_SECRETS or STEWARD_API_TOKENS"
            )
        authorization = lowered.get("authorization")
        if authorization is not None:
            self._check_bearer(authorization)
            return Caller("bearer", _delivery_id(lowered.get("idempotency-key")))
        if allow_signature and any(h in lowered for h in _SIGNATURE_HEADERS):
            self._check_signature(lowered, body)
            return Caller("signature", _delivery_id(lowered["webhook-id"]))
        if allow_signature:
            raise Unauthorized(
                "missing credentials: sign the request (webhook-id, webhook-timestamp, "
                "webhook-signature) or send Authorization: Bearer <token>"
            )
        raise Unauthorized("missing credentials: send Authorization: Bearer <token>")

    def _check_bearer(self, authorization: str) -> None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization header must be 'Bearer <token>'")
        presented = token.strip().encode()
        matched = False
        for known in self._tokens:
            matched |= hmac.compare_digest(presented, known)
        if not matched:
            raise Unauthorized("unknown bearer token")

    def _check_signature(self, headers: dict[str, str], body: bytes) -> None:
        if not self._webhooks:
            raise Unauthorized("signed requests are not accepted: no STEWARD_WEBHOOK_SECRETS set")
        reason = "no matching signature"
        for webhook in self._webhooks:
            try:
                webhook.verify(body, headers, json_parse=False)
                return
            except WebhookVerificationError as exc:
                reason = _signature_reason(str(exc))
            except (ValueError, binascii.Error):  # malformed header, or a body that is not UTF-8
                reason = "malformed webhook-signature header or body"
        raise Unauthorized(f"webhook signature rejected: {reason}")


def _signature_reason(message: str) -> str:
    known = {
        "Missing required headers": "webhook-id, webhook-timestamp and webhook-signature "
        "are all required",
        "Message timestamp too old": "webhook-timestamp is more than 5 minutes old",
        "Message timestamp too new": "webhook-timestamp is more than 5 minutes in the future",
        "Invalid Signature Headers": "webhook-timestamp must be Unix seconds",
        "No matching signature found": "no matching signature (wrong secret, or the body "
        "changed after signing)",
    }
    return known.get(message, message)


def _delivery_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_DELIVERY_ID_LENGTH:
        raise RejectedPayload(
            400, f"webhook-id / Idempotency-Key must be 1-{MAX_DELIVERY_ID_LENGTH} characters"
        )
    return value
