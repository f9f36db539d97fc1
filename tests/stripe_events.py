"""Webhook events shaped like Stripe's 2026 snapshot events, and Stripe's signature on them.

``signed(event, secret)`` gives the body and headers of a delivery; ``sign`` the
``Stripe-Signature`` header alone (``t=<ts>,v1=<HMAC-SHA256>``, as Stripe signs).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

from tests.stripe_objects import API_VERSION, Obj, dispute_object, invoice_object, new_id, now


def event(
    type: str,
    obj: Obj,
    created: int | None = None,
    *,
    previous_attributes: Obj | None = None,
) -> Obj:
    """A snapshot event as Stripe delivers it to a webhook endpoint."""
    data: Obj = {"object": copy.deepcopy(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = copy.deepcopy(previous_attributes)
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created if created is not None else now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }


def checkout_completed(session: Obj, created: int | None = None) -> Obj:
    return event("checkout.session.completed", session, created)


def checkout_async_succeeded(session: Obj, created: int | None = None) -> Obj:
    return event("checkout.session.async_payment_succeeded", session, created)


def checkout_async_failed(session: Obj, created: int | None = None) -> Obj:
    return event("checkout.session.async_payment_failed", session, created)


def invoice_paid(
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
    billing_reason: str = "subscription_cycle",
    type: str = "invoice.paid",  # or "invoice.payment_succeeded"
    created: int | None = None,
) -> Obj:
    invoice = invoice_object(
        subscription=subscription,
        price=price,
        customer=customer,
        metadata=metadata,
        period_start=period_start,
        period_end=period_end,
        amount_paid=amount_paid,
        invoice_id=invoice_id,
        payment_intent=payment_intent,
        billing_reason=billing_reason,
    )
    return event(type, invoice, created)


def subscription_event(
    kind: str,
    subscription: Obj,
    created: int | None = None,
    *,
    previous_attributes: Obj | None = None,
) -> Obj:
    """``customer.subscription.<kind>`` (created, updated, deleted)."""
    if kind not in ("created", "updated", "deleted"):
        raise ValueError(f"not a subscription event kind: {kind!r}")
    return event(
        f"customer.subscription.{kind}",
        subscription,
        created,
        previous_attributes=previous_attributes,
    )


def charge_refunded(
    charge: Obj, created: int | None = None, *, amount_refunded: int | None = None
) -> Obj:
    """``charge.refunded`` for ``charge``. ``amount_refunded`` is the running total refunded so far
    (all refunds, not this one; default: the charge's own, or the whole amount when that is 0);
    ``refunded`` follows from it."""
    total = amount_refunded if amount_refunded is not None else charge["amount_refunded"]
    total = total or charge["amount"]
    refunded = dict(charge, amount_refunded=total, refunded=total >= charge["amount"])
    return event("charge.refunded", refunded, created)


def dispute_closed(
    status: str,
    charge: Obj,
    *,
    amount: int | None = None,
    dispute_id: str | None = None,
    created: int | None = None,
) -> Obj:
    """``charge.dispute.closed`` with ``status`` "lost", "won" or "warning_closed"."""
    dispute = dispute_object(status, charge, amount=amount, dispute_id=dispute_id, created=created)
    return event("charge.dispute.closed", dispute, created)


def payment_intent_event(type: str, intent: Obj, created: int | None = None) -> Obj:
    """``payment_intent.succeeded``, ``…payment_failed``… (the prefix may be left out)."""
    full = type if type.startswith("payment_intent.") else f"payment_intent.{type}"
    return event(full, intent, created)


# --- signing ------------------------------------------------------------------------------------


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send: ``t=<ts>,v1=<HMAC-SHA256 hex>`` of
    ``"<ts>.<payload>"`` keyed with the endpoint's secret."""
    ts = now() if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256)
    return f"t={ts},v1={mac.hexdigest()}"


def signed(evt: Obj, secret: str, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """An event as a webhook delivery: the JSON body and its headers."""
    body = json.dumps(evt, indent=2).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign(body, secret, timestamp),
    }
    return body, headers
