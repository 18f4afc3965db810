"""HubSpot: company events become Steward accounts (name, owner, ARR, renewal date).

Verified as HubSpot signs webhooks (v3): ``X-HubSpot-Signature-v3`` is the base64
HMAC-SHA256, keyed with the app's client secret (STEWARD_HUBSPOT_CLIENT_SECRET), of the
method, the URL HubSpot called, the raw body and ``X-HubSpot-Request-Timestamp``
(milliseconds), which must be within 5 minutes. Behind a proxy, set STEWARD_PUBLIC_URL
so that the URL is the one HubSpot called.

A delivery is a list of events. ``company.creation`` makes the account (named by its id
until its name arrives); ``company.propertyChange`` of a mapped property sets that one
field (``[sources.hubspot] properties``; by default name, domain, hubspot_owner_id ->
csm, arr, renewal_date), an owner id becoming the person in ``owners``; the account is
the company id, or ``companies`` maps it. Other events are acknowledged and ignored.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel

from core.settings import HubSpotMapping
from handlers.api.auth import Caller, Unauthorized
from handlers.api.errors import RejectedPayload
from sources.base import Context, Mapped, Record, base64_hmac_sha256_matches, text_at, unmappable

TOLERANCE_MS = 300_000
WHAT = "HubSpot event"
MAX_EVENTS = 100  # HubSpot sends at most 100 events per request
# HubSpot signs the URL with these characters decoded (its v3 validation docs)
_DECODED = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B")


def signed_url(url: str) -> str:
    """The URL as HubSpot puts it in the signed text."""
    for code in _DECODED:
        url = url.replace(code, unquote(code)).replace(code.lower(), unquote(code))
    return url


@dataclass(frozen=True)
class HubSpot:
    name: str = "hubspot"

    def verify(self, headers: Mapping[str, str], body: bytes, ctx: Context) -> Caller:
        lowered = {k.lower(): v for k, v in headers.items()}
        signature = lowered.get("x-hubspot-signature-v3")
        stamp = lowered.get("x-hubspot-request-timestamp")
        secret = ctx.settings.hubspot_client_secret
        if signature is None or stamp is None:
            raise Unauthorized("missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
        if secret is None or not secret.get_secret_value():
            raise Unauthorized(
                "HubSpot signature sent, but no STEWARD_HUBSPOT_CLIENT_SECRET is set"
            )
        if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > TOLERANCE_MS:
            raise Unauthorized("X-HubSpot-Request-Timestamp is more than 5 minutes off")
        text = ctx.method.encode() + signed_url(ctx.url).encode() + body + stamp.encode()
        if not base64_hmac_sha256_matches(secret.get_secret_value(), text, signature):
            raise Unauthorized(
                "X-HubSpot-Signature-v3 does not match (is STEWARD_PUBLIC_URL the URL HubSpot "
                "calls?)"
            )
        return Caller("hubspot-signature", None)

    def map(self, payload: Any, mapping: BaseModel, headers: Mapping[str, str]) -> Mapped:
        assert isinstance(mapping, HubSpotMapping)
        if not isinstance(payload, list):
            raise RejectedPayload(400, "body must be a JSON list of HubSpot events")
        if len(payload) > MAX_EVENTS:
            raise RejectedPayload(413, f"{len(payload)} events; HubSpot sends at most 100")
        mapped = Mapped(received=len(payload))
        names: dict[str, tuple[str, int]] = {}
        ordered = sorted(enumerate(payload), key=lambda pair: _occurred(pair[1]))
        for index, item in ordered:
            if not isinstance(item, dict):
                raise unmappable(index, f"{index}", "must be an object", WHAT)
            kind = text_at(item, "subscriptionType") or ""
            if kind not in ("company.creation", "company.propertyChange"):
                mapped.ignored += 1
                continue
            company = text_at(item, "objectId")
            if company is None:
                raise unmappable(index, f"{index}.objectId", "is missing", WHAT)
            account = mapping.companies.get(company, company)
            if kind == "company.creation":
                mapped.placeholders.add(account)
                continue
            prop = text_at(item, "propertyName")
            target = mapping.properties.get(prop or "")
            if target is None:
                mapped.ignored += 1
                continue
            path = f"{index}.propertyValue"
            value = text_at(item, "propertyValue")
            if target == "name":
                if value is None:
                    raise unmappable(index, path, "is missing (a company needs a name)", WHAT)
                names[account] = (value, index)
                continue
            if target in ("csm", "ae") and value is not None:
                value = mapping.owners.get(value, value)
            if target.endswith("_date") and value is not None:
                value = _day(value)
            mapped.account_fields.setdefault(account, {})[target] = (
                float(value) if target == "arr" and value is not None and _number(value) else value,
                path,
            )
        for account, (name, index) in names.items():
            paths = {"id": f"{index}.objectId", "name": f"{index}.propertyValue"}
            mapped.records.append(Record("accounts", {"id": account, "name": name}, index, paths))
        return mapped


def _occurred(item: Any) -> int:
    value = item.get("occurredAt") if isinstance(item, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: str | None) -> bool:
    if value is None:
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _day(value: str) -> str:
    """A HubSpot date property: midnight UTC in epoch milliseconds, or already a date."""
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC).date().isoformat()
    return value


SOURCE = HubSpot()
