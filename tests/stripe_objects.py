"""Stripe objects as the 2026 API shapes them (Stripe's field names, kept small), for the tests.

Used by the loopback Stripe (``tests.stripe_fakes``) and by tests that put objects in it or build
events from them (``tests.stripe_events``). Shapes that trip code written for older versions: an
invoice's subscription and its metadata are at ``parent.subscription_details`` (no
``invoice.subscription``, ``paid``, ``charge`` or ``payment_intent``), its price at
``lines.data[0].pricing.price_details.price`` and the period it pays at ``lines.data[0].period``;
its payments at ``payments.data[0].payment.payment_intent`` when present; a subscription's
period is on ``items.data[0]``; a dispute has its own empty metadata, reaching the payment through
``charge`` and ``payment_intent``; a charge's ``amount_refunded`` is a running total.
"""

from __future__ import annotations

import hashlib
import random
import string
import time
from typing import Any

API_VERSION = "2026-10-28.endive"  # stripe._api_version._ApiVersion.CURRENT in stripe 16.1.0
MONTH = 30 * 86_400
_ALPHABET = string.ascii_letters + string.digits
_random = random.SystemRandom()
Obj = dict[str, Any]


def new_id(prefix: str) -> str:
    """A Stripe-looking id: ``cs_test_…`` for Checkout Sessions, ``<prefix>_…`` otherwise."""
    body = "".join(_random.choices(_ALPHABET, k=24))
    return f"{prefix}_test_{body}" if prefix == "cs" else f"{prefix}_{body}"


def now() -> int:
    return int(time.time())


def listing(data: list[Obj], url: str) -> Obj:
    return {"object": "list", "data": data, "has_more": False, "total_count": len(data), "url": url}


def price_object(
    price_id: str,
    unit_amount: int = 1000,
    currency: str = "usd",
    recurring_interval: str | None = None,
    product: str | None = None,
) -> Obj:
    recurring = recurring_interval and {
        "interval": recurring_interval,
        "interval_count": 1,
        "usage_type": "licensed",
        "meter": None,
        "trial_period_days": None,
    }
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": now(),
        "currency": currency,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product or f"prod_{hashlib.sha256(price_id.encode()).hexdigest()[:14]}",
        "recurring": recurring or None,
        "type": "recurring" if recurring_interval else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def customer_object(
    customer_id: str | None = None,
    *,
    name: str | None = None,
    email: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Obj:
    return {
        "id": customer_id or new_id("cus"),
        "object": "customer",
        "balance": 0,
        "created": now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": email,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": dict(metadata or {}),
        "name": name,
    }


def payment_method_object(customer: str | None) -> Obj:
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "card": {
            "brand": "visa",
            "country": "US",
            "exp_month": 12,
            "exp_year": 2034,
            "funding": "credit",
            "last4": "4242",
        },
        "created": now(),
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def payment_intent_object(
    *,
    amount: int,
    currency: str = "usd",
    customer: str | None = None,
    metadata: dict[str, str] | None = None,
    payment_method: str | None = None,
    status: str = "succeeded",
    latest_charge: str | None = None,
    setup_future_usage: str | None = None,
    intent_id: str | None = None,
) -> Obj:
    return {
        "id": intent_id or new_id("pi"),
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount if status == "succeeded" else 0,
        "capture_method": "automatic_async",
        "confirmation_method": "automatic",
        "created": now(),
        "currency": currency,
        "customer": customer,
        "description": None,
        "last_payment_error": None,
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": dict(metadata or {}),
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "setup_future_usage": setup_future_usage,
        "status": status,
    }


def charge_object(
    *,
    amount: int,
    currency: str = "usd",
    customer: str | None = None,
    payment_intent: str | None = None,
    payment_method: str | None = None,
    amount_refunded: int = 0,
    metadata: dict[str, str] | None = None,
    status: str = "succeeded",
    charge_id: str | None = None,
    created: int | None = None,
) -> Obj:
    """A charge; ``amount_refunded`` is the running total refunded so far, as Stripe keeps it."""
    succeeded = status == "succeeded"
    return {
        "id": charge_id or new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if succeeded else 0,
        "amount_refunded": amount_refunded,
        "balance_transaction": new_id("txn") if succeeded else None,
        "captured": succeeded,
        "created": created if created is not None else now(),
        "currency": currency,
        "customer": customer,
        "description": None,
        "disputed": False,
        "failure_code": None if succeeded else "card_declined",
        "failure_message": None if succeeded else "Your card was declined.",
        "livemode": False,
        "metadata": dict(metadata or {}),
        "paid": succeeded,
        "payment_intent": payment_intent,
        "payment_method": payment_method,
        "refunded": succeeded and amount_refunded >= amount,
        "status": status,
    }


def subscription_object(
    *,
    customer: str,
    price: str,
    status: str = "active",
    metadata: dict[str, str] | None = None,
    current_period_start: int | None = None,
    current_period_end: int | None = None,
    unit_amount: int = 1000,
    currency: str = "usd",
    subscription_id: str | None = None,
    created: int | None = None,
    cancel_at_period_end: bool = False,
    canceled_at: int | None = None,
    ended_at: int | None = None,
    latest_invoice: str | None = None,
    default_payment_method: str | None = None,
) -> Obj:
    """A subscription to one monthly price; its period is on ``items.data[0]``, as in 2026."""
    start = current_period_start if current_period_start is not None else now()
    end = current_period_end if current_period_end is not None else start + MONTH
    sub_id = subscription_id or new_id("sub")
    made = created if created is not None else start
    item = {
        "id": new_id("si"),
        "object": "subscription_item",
        "created": made,
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "price": price_object(price, unit_amount, currency, "month"),
        "quantity": 1,
        "subscription": sub_id,
        "tax_rates": [],
    }
    return {
        "id": sub_id,
        "object": "subscription",
        "billing_cycle_anchor": start,
        "cancel_at": end if cancel_at_period_end else None,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": canceled_at,
        "collection_method": "charge_automatically",
        "created": made,
        "currency": currency,
        "customer": customer,
        "default_payment_method": default_payment_method,
        "ended_at": ended_at,
        "items": listing([item], f"/v1/subscription_items?subscription={sub_id}"),
        "latest_invoice": latest_invoice,
        "livemode": False,
        "metadata": dict(metadata or {}),
        "start_date": made,
        "status": status,
    }


def invoice_object(
    *,
    subscription: str,
    price: str,
    customer: str,
    metadata: dict[str, str] | None,
    period_start: int,
    period_end: int,
    amount_paid: int,
    invoice_id: str | None = None,
    payment_intent: str | None = None,
    currency: str = "usd",
    billing_reason: str = "subscription_cycle",
    status: str = "paid",
    product: str | None = None,
    created: int | None = None,
    amount_due: int | None = None,
) -> Obj:
    """A subscription's invoice for the period ``period_start``..``period_end`` (its line's
    period). As at Stripe, the invoice's own ``period_start``/``period_end`` are the usage period
    *before* it (equal, for the first invoice): read the line's period, not those.
    ``amount_due`` defaults to ``amount_paid`` (an open invoice has paid 0 of it)."""
    inv_id = invoice_id or new_id("in")
    made = created if created is not None else period_start
    amount_due = amount_paid if amount_due is None else amount_due
    previous = period_start - (period_end - period_start)
    details = {"metadata": dict(metadata or {}), "subscription": subscription}
    line: Obj = {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount_due,
        "currency": currency,
        "description": f"1 × {price} (at {amount_due / 100:.2f} / month)",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": inv_id,
        "livemode": False,
        "metadata": {},
        "parent": {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
                "subscription_item": new_id("si"),
            },
        },
        "period": {"end": period_end, "start": period_start},
        "pretax_credit_amounts": [],
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price, "product": product or price_object(price)["product"]},
            "unit_amount_decimal": str(amount_due),
        },
        "quantity": 1,
        "subtotal": amount_due,
        "taxes": [],
    }
    invoice: Obj = {
        "id": inv_id,
        "object": "invoice",
        "amount_due": amount_due,
        "amount_paid": amount_paid,
        "amount_remaining": amount_due - amount_paid,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": made,
        "currency": currency,
        "customer": customer,
        "lines": listing([line], f"/v1/invoices/{inv_id}/lines"),
        "livemode": False,
        "metadata": {},
        "parent": {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": details,
        },
        "period_end": period_start,
        "period_start": period_start if billing_reason == "subscription_create" else previous,
        "status": status,
        "status_transitions": {
            "finalized_at": made,
            "paid_at": made if status == "paid" else None,
            "voided_at": None,
        },
        "subtotal": amount_due,
        "total": amount_due,
    }
    if payment_intent is not None:
        payment = {
            "id": new_id("inpay"),
            "object": "invoice_payment",
            "amount_paid": amount_paid if status == "paid" else None,
            "amount_requested": amount_due,
            "created": made,
            "currency": currency,
            "invoice": inv_id,
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": payment_intent},
            "status": "paid" if status == "paid" else "open",
            "status_transitions": {
                "canceled_at": None,
                "paid_at": made if status == "paid" else None,
            },
        }
        invoice["payments"] = listing([payment], "/v1/invoice_payments")
    return invoice


def dispute_object(
    status: str,
    charge: Obj,
    *,
    amount: int | None = None,
    reason: str = "fraudulent",
    dispute_id: str | None = None,
    created: int | None = None,
) -> Obj:
    """A dispute on ``charge``: its own (empty) metadata, the charge and its PaymentIntent."""
    return {
        "id": dispute_id or new_id("dp"),
        "object": "dispute",
        "amount": charge["amount"] if amount is None else amount,
        "balance_transactions": [],
        "charge": charge["id"],
        "created": created if created is not None else now(),
        "currency": charge["currency"],
        "evidence_details": {
            "due_by": None,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge.get("payment_intent"),
        "reason": reason,
        "status": status,
    }
