"""Stripe events shaped as Stripe's API reference shows them, signed as Stripe signs."""

from __future__ import annotations

import copy
import hashlib
import hmac
import time
from datetime import timedelta
from typing import Any

import httpx
import orjson

from tests.support.events import NOW

CUSTOMER: dict[str, Any] = {  # docs.stripe.com/api/customers/object
    "id": "cus_NffrFeUfNV2Hib",
    "object": "customer",
    "address": None,
    "balance": 0,
    "created": 1680893993,
    "currency": None,
    "default_source": None,
    "delinquent": False,
    "description": None,
    "discount": None,
    "email": "jennyrosen@example.com",
    "invoice_prefix": "0759376C",
    "invoice_settings": {
        "custom_fields": None,
        "default_payment_method": None,
        "footer": None,
        "rendering_options": None,
    },
    "livemode": False,
    "metadata": {},
    "name": "Jenny Rosen",
    "next_invoice_sequence": 1,
    "phone": None,
    "preferred_locales": [],
    "shipping": None,
    "tax_exempt": "none",
    "test_clock": None,
}

SUBSCRIPTION: dict[str, Any] = {  # docs.stripe.com/api/subscriptions/object (2020-08-27)
    "id": "sub_1MowQVLkdIwHu7ixeRlqHVzs",
    "object": "subscription",
    "application": None,
    "billing_cycle_anchor": 1679609767,
    "cancel_at": None,
    "cancel_at_period_end": False,
    "canceled_at": None,
    "collection_method": "charge_automatically",
    "created": 1679609767,
    "currency": "usd",
    "current_period_end": 1682288167,
    "current_period_start": 1679609767,
    "customer": "cus_NffrFeUfNV2Hib",
    "ended_at": None,
    "items": {
        "object": "list",
        "data": [
            {
                "id": "si_Na6dzxczY5fwHx",
                "object": "subscription_item",
                "created": 1679609768,
                "metadata": {},
                "price": {
                    "id": "price_1MowQULkdIwHu7ixraBm864M",
                    "object": "price",
                    "active": True,
                    "billing_scheme": "per_unit",
                    "created": 1679609766,
                    "currency": "usd",
                    "lookup_key": None,
                    "metadata": {},
                    "nickname": None,
                    "product": "prod_Na6dGcTsmU0I4R",
                    "recurring": {
                        "interval": "month",
                        "interval_count": 1,
                        "trial_period_days": None,
                        "usage_type": "licensed",
                    },
                    "type": "recurring",
                    "unit_amount": 1000,
                    "unit_amount_decimal": "1000",
                },
                "quantity": 1,
                "subscription": "sub_1MowQVLkdIwHu7ixeRlqHVzs",
                "tax_rates": [],
            }
        ],
        "has_more": False,
        "total_count": 1,
        "url": "/v1/subscription_items?subscription=sub_1MowQVLkdIwHu7ixeRlqHVzs",
    },
    "livemode": False,
    "metadata": {},
    "quantity": 1,
    "start_date": 1679609767,
    "status": "active",
}


def event(kind: str, obj: dict[str, Any], n: int = 1) -> dict[str, Any]:
    """A Stripe event envelope (docs.stripe.com/api/events/object) around an object."""
    return {
        "id": f"evt_1NG8Du2eZvKYlo2C{n:08d}",
        "object": "event",
        "api_version": "2020-08-27",
        "created": int(NOW.timestamp()),
        "data": {"object": copy.deepcopy(obj)},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def customer(**fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(CUSTOMER), **fields}


def subscription(*, days_in: int = 10, days_left: int = 355, **fields: Any) -> dict[str, Any]:
    """The reference subscription, in a yearly period around now, 12,000.00 USD a year."""
    sub = copy.deepcopy(SUBSCRIPTION)
    sub["current_period_start"] = int((NOW - timedelta(days=days_in)).timestamp())
    sub["current_period_end"] = int((NOW + timedelta(days=days_left)).timestamp())
    sub["items"]["data"][0]["price"]["unit_amount"] = 1_200_000
    sub["items"]["data"][0]["price"]["recurring"]["interval"] = "year"
    sub.update(fields)
    return sub


def stripe_signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Stripe-Signature as Stripe computes it: t=<unix>,v1=hex HMAC-SHA256(secret, "t.body")."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def post(
    http: httpx.Client, payload: Any, secret: str, *, timestamp: int | None = None
) -> httpx.Response:
    body = orjson.dumps(payload)
    headers = {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": stripe_signature(secret, body, timestamp),
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    return http.post("/v1/sources/stripe", content=body, headers=headers)


INVOICE: dict[str, Any] = {  # docs.stripe.com/api/invoices/object (the fields Steward reads)
    "id": "in_1MtHbELkdIwHu7ixl4OzzPMv",
    "object": "invoice",
    "account_country": "US",
    "amount_due": 129900,
    "amount_paid": 0,
    "amount_remaining": 129900,
    "billing_reason": "subscription_cycle",
    "collection_method": "charge_automatically",
    "created": 1680644467,
    "currency": "usd",
    "customer": "cus_NffrFeUfNV2Hib",
    "customer_email": "jennyrosen@example.com",
    "livemode": False,
    "metadata": {},
    "number": "0759376C-0001",
    "paid": False,
    "status": "open",
    "status_transitions": {
        "finalized_at": None,
        "marked_uncollectible_at": None,
        "paid_at": None,
        "voided_at": None,
    },
    "subtotal": 129900,
    "total": 129900,
}


def invoice(*, paid: bool = False, days_ago: int = 3, **fields: Any) -> dict[str, Any]:
    """An invoice finalized ``days_ago`` (and paid an hour later when ``paid``)."""
    obj = copy.deepcopy(INVOICE)
    finalized = int((NOW - timedelta(days=days_ago)).timestamp())
    obj["status_transitions"]["finalized_at"] = finalized
    obj["created"] = finalized - 3600
    if paid:
        obj.update(status="paid", paid=True, amount_paid=obj["amount_due"], amount_remaining=0)
        obj["status_transitions"]["paid_at"] = finalized + 3600
    obj.update(fields)
    return obj
