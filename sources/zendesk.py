"""Zendesk: tickets from Zendesk's webhooks become Steward's support tickets.

Verified as Zendesk signs: ``X-Zendesk-Webhook-Signature`` is the base64 HMAC-SHA256,
keyed with the webhook's signing secret (STEWARD_ZENDESK_SECRET), of
``X-Zendesk-Webhook-Signature-Timestamp`` followed by the raw body; a timestamp more
than 5 minutes from Steward's clock is refused (a replay).

Two shapes are taken:

- Zendesk's ticket events (``"type": "zen:event-type:ticket.<what>"``): the ticket is the
  event's ``detail`` (id, status, priority, subject, organization_id, created_at,
  updated_at);
- a trigger's JSON body (the README gives the one to paste):
  ``{"ticket": {"id", "organization", "status", "priority", "subject", "created_at",
  "updated_at", "satisfaction"}}`` filled by Zendesk's placeholders.

The account is the ticket's organization (its id, or the external id the trigger body
sends), through ``[sources.zendesk] organizations`` when the ids differ. A ticket with
no organization names no account: 422 with the path, nothing stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from core.settings import ZendeskMapping
from handlers.api.auth import Caller, Unauthorized
from handlers.api.errors import RejectedPayload
from sources.base import (
    MISSING,
    Context,
    Mapped,
    Record,
    base64_hmac_sha256_matches,
    get_path,
    text_at,
    unmappable,
)

TOLERANCE_SECONDS = 300
WHAT = "Zendesk ticket"
EVENT_PREFIX = "zen:event-type:ticket."
STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed"})
PRIORITIES = frozenset({"low", "normal", "high", "urgent"})
RATINGS = {"good": 5, "bad": 1}  # Zendesk's satisfaction: good or bad (offered: none yet)
NO_ORGANIZATION = frozenset({"", "0", "-"})


@dataclass(frozen=True)
class Zendesk:
    name: str = "zendesk"

    def verify(self, headers: Mapping[str, str], body: bytes, ctx: Context) -> Caller:
        lowered = {k.lower(): v for k, v in headers.items()}
        signature = lowered.get("x-zendesk-webhook-signature")
        stamp = lowered.get("x-zendesk-webhook-signature-timestamp")
        secret = ctx.settings.zendesk_secret
        if signature is None or stamp is None:
            raise Unauthorized(
                "missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp"
            )
        if secret is None or not secret.get_secret_value():
            raise Unauthorized("Zendesk signature sent, but no STEWARD_ZENDESK_SECRET is set")
        try:
            sent = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise Unauthorized("X-Zendesk-Webhook-Signature-Timestamp is not ISO 8601") from None
        if (
            sent.tzinfo is None
            or abs((datetime.now(UTC) - sent).total_seconds()) > TOLERANCE_SECONDS
        ):
            raise Unauthorized("X-Zendesk-Webhook-Signature-Timestamp is more than 5 minutes off")
        signed = stamp.encode() + body
        if not base64_hmac_sha256_matches(secret.get_secret_value(), signed, signature):
            raise Unauthorized("X-Zendesk-Webhook-Signature does not match the body")
        return Caller("zendesk-signature", None)

    def map(self, payload: Any, mapping: BaseModel, headers: Mapping[str, str]) -> Mapped:
        assert isinstance(mapping, ZendeskMapping)
        if not isinstance(payload, dict):
            raise RejectedPayload(400, "body must be a JSON object")
        kind = text_at(payload, "type") or ""
        if kind.startswith("zen:event-type:"):
            if not kind.startswith(EVENT_PREFIX):
                return Mapped(received=1, ignored=1)  # a user or article event: not a ticket
            fields = _event_fields(payload)
        elif isinstance(payload.get("ticket"), dict):
            fields = _trigger_fields(payload)
        else:
            raise RejectedPayload(
                400,
                'body must be a Zendesk ticket event ("type": "zen:event-type:ticket.*") or '
                'a trigger body with a "ticket" object (see the README)',
            )
        return Mapped(records=[_ticket(fields, mapping)], received=1)


# Each field: (Steward's name, where it is in the payload).
def _event_fields(payload: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    names = ("id", "organization_id", "status", "priority", "subject", "created_at")
    found = {n: (get_path(payload, f"detail.{n}"), f"detail.{n}") for n in names}
    found["updated_at"] = (get_path(payload, "detail.updated_at"), "detail.updated_at")
    found["organization"] = found.pop("organization_id")
    found["satisfaction"] = (MISSING, "detail.satisfaction")
    return found


def _trigger_fields(payload: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    names = (
        "id", "organization", "status", "priority", "subject", "created_at", "updated_at",
        "satisfaction",
    )  # fmt: skip
    return {n: (get_path(payload, f"ticket.{n}"), f"ticket.{n}") for n in names}


def _text(value: Any) -> str | None:
    if value is MISSING or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def _ticket(fields: dict[str, tuple[Any, str]], mapping: ZendeskMapping) -> Record:
    def need(name: str, reason: str = "is missing") -> str:
        value, path = fields[name]
        text = _text(value)
        if text is None:
            raise unmappable(0, path, reason, WHAT)
        return text

    ticket_id = need("id")
    organization = _text(fields["organization"][0])
    if organization is None or organization in NO_ORGANIZATION:
        path = fields["organization"][1]
        raise unmappable(
            0, path, "is missing: a ticket with no organization names no account", WHAT
        )
    status = need("status").lower()
    if status not in STATUSES:  # a custom status: Zendesk's own category is not sent
        status = "open"
    priority = (_text(fields["priority"][0]) or "normal").lower()
    if priority not in PRIORITIES:
        priority = "normal"
    opened = need("created_at", "is missing (the ticket's creation time)")
    values: dict[str, Any] = {
        "id": f"zendesk-{ticket_id}",
        "account": mapping.organizations.get(organization, organization),
        "status": status,
        "priority": priority,
        "opened_at": opened,
    }
    subject = _text(fields["subject"][0])
    if subject is not None:
        values["subject"] = subject
    updated = _text(fields["updated_at"][0])
    if status in ("solved", "closed") and updated is not None:
        values["solved_at"] = updated
    rating = RATINGS.get((_text(fields["satisfaction"][0]) or "").lower())
    if rating is not None:
        values["csat"] = rating
    paths = {
        "id": fields["id"][1],
        "account": fields["organization"][1],
        "status": fields["status"][1],
        "priority": fields["priority"][1],
        "subject": fields["subject"][1],
        "opened_at": fields["created_at"][1],
        "solved_at": fields["updated_at"][1],
        "csat": fields["satisfaction"][1],
    }
    return Record("tickets", values, 0, paths)


SOURCE = Zendesk()
