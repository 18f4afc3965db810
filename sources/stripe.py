"""Stripe: customers become accounts, subscriptions contracts, invoices spend.

Verified by ``Stripe-Signature`` with STEWARD_STRIPE_WEBHOOK_SECRET, by Stripe's own
verifier (the ``stripe`` package), within 5 minutes. The Steward account is the
customer's id, or ``metadata.<account_metadata>`` (default ``steward_account``) on the
customer and on its subscriptions when it differs.

An invoice paid (``invoice.paid``: what was paid) or finalized (``invoice.finalized``:
what is due) is a usage event of the metric ``spend``, in the currency's main unit, on
the day it was paid or finalized; its id is the invoice's, so the second of the two
events for one invoice is a duplicate and the money is counted once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import stripe
from pydantic import BaseModel

from core.settings import StripeMapping
from handlers.api.auth import Caller, Unauthorized
from handlers.api.errors import RejectedPayload
from sources.base import MISSING, Context, Mapped, Record, get_path, text_at, unmappable

TOLERANCE_SECONDS = 300
WHAT = "Stripe event"
# invoice event -> (the amount it counts, the moment it happened)
INVOICE_AMOUNTS = {
    "invoice.paid": ("amount_paid", "status_transitions.paid_at"),
    "invoice.finalized": ("amount_due", "status_transitions.finalized_at"),
}
ZERO_DECIMAL = frozenset(  # currencies Stripe counts in whole units (its docs' list)
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
     "vuv", "xaf", "xof", "xpf"}
)  # fmt: skip


@dataclass(frozen=True)
class Stripe:
    name: str = "stripe"

    def verify(self, headers: Mapping[str, str], body: bytes, ctx: Context) -> Caller:
        lowered = {k.lower(): v for k, v in headers.items()}
        header = lowered.get("stripe-signature")
        secret = ctx.settings.stripe_webhook_secret
        if header is None:
            raise Unauthorized("missing Stripe-Signature header")
        if secret is None or not secret.get_secret_value():
            raise Unauthorized("Stripe-Signature sent, but no STEWARD_STRIPE_WEBHOOK_SECRET is set")
        try:
            stripe.WebhookSignature.verify_header(  # type: ignore[no-untyped-call]
                body.decode("utf-8"), header, secret.get_secret_value(), TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as exc:
            raise Unauthorized(f"Stripe-Signature rejected: {exc.user_message or exc}") from None
        return Caller("stripe-signature", None)

    def map(self, payload: Any, mapping: BaseModel, headers: Mapping[str, str]) -> Mapped:
        assert isinstance(mapping, StripeMapping)
        if not isinstance(payload, dict) or payload.get("object") != "event":
            raise RejectedPayload(400, 'body must be a Stripe event ("object": "event")')
        kind = text_at(payload, "type") or ""
        obj = get_path(payload, "data.object")
        if not isinstance(obj, dict):
            raise unmappable(0, "data.object", "is missing", WHAT)
        mapped = Mapped(received=1)
        if kind in ("customer.created", "customer.updated"):
            _customer(mapped, obj, mapping)
        elif kind in INVOICE_AMOUNTS:
            mapped.records.append(_invoice(obj, mapping, kind))
        elif kind.startswith("customer.subscription."):
            record = _subscription(obj, mapping, deleted=kind.endswith(".deleted"))
            mapped.records.append(record)
            if kind.endswith(".deleted"):  # the account churned if nothing else runs on
                ended = date.fromisoformat(record.values["end_date"])
                mapped.ended[record.values["account"]] = ended
        else:
            mapped.ignored = 1
        return mapped


def _customer(mapped: Mapped, customer: dict[str, Any], mapping: StripeMapping) -> None:
    customer_id = text_at(customer, "id")
    if customer_id is None:
        raise unmappable(0, "data.object.id", "is missing", WHAT)
    account = text_at(customer, f"metadata.{mapping.account_metadata}") or customer_id
    name = text_at(customer, "name") or text_at(customer, "email")
    if name is None:  # nothing to name it by yet: a placeholder until a later update
        mapped.placeholders.add(account)
        return
    paths = {"id": "data.object.id", "name": "data.object.name"}
    mapped.records.append(Record("accounts", {"id": account, "name": name}, 0, paths))


def _required(obj: dict[str, Any], *names: str) -> list[str]:
    """The object's text fields, in order, or a 422 naming the first that is missing."""
    found = []
    for name in names:
        value = text_at(obj, name)
        if value is None:
            raise unmappable(0, f"data.object.{name}", "is missing", WHAT)
        found.append(value)
    return found


def _subscription(sub: dict[str, Any], mapping: StripeMapping, *, deleted: bool) -> Record:
    sub_id, customer, currency = _required(sub, "id", "customer", "currency")
    start, end = _period(sub)
    if deleted:  # a deleted subscription ends the contract when it ended
        ended = _day(get_path(sub, "ended_at")) or _day(get_path(sub, "canceled_at"))
        end = max(ended or end, start + timedelta(days=1))
    values = {
        "id": sub_id,
        "account": text_at(sub, f"metadata.{mapping.account_metadata}") or customer,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "committed_amount": _committed(sub),
        "currency": currency.upper(),
    }
    paths = {
        "id": "data.object.id",
        "account": "data.object.customer",
        "start_date": "data.object.current_period_start",
        "end_date": "data.object.current_period_end",
        "committed_amount": "data.object.items.data.price.unit_amount",
        "currency": "data.object.currency",
    }
    return Record("contracts", values, 0, paths)


def _invoice(invoice: dict[str, Any], mapping: StripeMapping, kind: str) -> Record:
    invoice_id, customer, currency = _required(invoice, "id", "customer", "currency")
    amount_field, when_field = INVOICE_AMOUNTS[kind]
    cents = get_path(invoice, amount_field)
    if not isinstance(cents, int) or isinstance(cents, bool) or cents < 0:
        raise unmappable(0, f"data.object.{amount_field}", "must be a whole number of cents", WHAT)
    moment = get_path(invoice, when_field)
    if not isinstance(moment, int) or isinstance(moment, bool):
        moment, when_field = get_path(invoice, "created"), "created"
    if not isinstance(moment, int) or isinstance(moment, bool):
        raise unmappable(0, f"data.object.{when_field}", "is missing (Unix seconds)", WHAT)
    unit = 1 if currency.lower() in ZERO_DECIMAL else 100
    values = {
        "id": f"stripe-{invoice_id}",
        "account": text_at(invoice, f"metadata.{mapping.account_metadata}") or customer,
        "metric": "spend",
        "quantity": cents / unit,
        "timestamp": datetime.fromtimestamp(moment, UTC).isoformat(),
        "properties": {"currency": currency.upper(), "invoice": invoice_id},
    }
    paths = {
        "id": "data.object.id",
        "account": "data.object.customer",
        "quantity": f"data.object.{amount_field}",
        "timestamp": f"data.object.{when_field}",
    }
    return Record("events", values, 0, paths)


def _period(sub: dict[str, Any]) -> tuple[date, date]:
    """The billing period: on the subscription (API versions before 2025-03-31) or its items."""
    items = get_path(sub, "items.data")
    first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
    found: list[date] = []
    for name in ("current_period_start", "current_period_end"):
        day = _day(get_path(sub, name)) or _day(get_path(first, name))
        if day is None:
            raise unmappable(0, f"data.object.{name}", "is missing (Unix seconds)", WHAT)
        found.append(day)
    return found[0], found[1]


def _committed(sub: dict[str, Any]) -> float:
    """What the licensed items cost per period, in the currency's main unit."""
    total = 0
    items = get_path(sub, "items.data")
    for n, item in enumerate(items if isinstance(items, list) else []):
        if get_path(item, "price.recurring.usage_type") == "metered":
            continue  # billed on usage: no commitment
        amount = get_path(item, "price.unit_amount")
        quantity = get_path(item, "quantity")
        if not isinstance(amount, int) or isinstance(amount, bool):
            path = f"data.object.items.data.{n}.price.unit_amount"
            raise unmappable(0, path, "must be a whole number of cents", WHAT)
        total += amount * (quantity if isinstance(quantity, int) else 1)
    return total / 100


def _day(value: Any) -> date | None:
    if value is MISSING or not isinstance(value, int) or isinstance(value, bool):
        return None
    return datetime.fromtimestamp(value, UTC).date()


SOURCE = Stripe()
