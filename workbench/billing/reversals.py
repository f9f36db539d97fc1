"""Refunds and lost disputes: the credits a payment bought are taken back, once.

A charge's ``amount_refunded`` is a running total and a lost dispute takes the disputed amount, so
each event recomputes how much of the payment is gone (refunded + disputed, at most all of it),
turns that share of the payment's credits into a target, and takes back only the difference from
what earlier events already took (``payments.taken_back_micros``, under the payment row's lock).
A redelivered or reordered event therefore takes nothing twice. Credits already spent become debt
(``ledger.payments.take_back``); an open dispute changes nothing.

Neither a charge nor a dispute carries our metadata: the payment is found through the
PaymentIntent both name (the dispute's, or its charge's, fetched by the caller).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from ledger import owners, payments
from ledger.amounts import credits_text
from workbench.billing import records
from workbench.billing.stripe_objects import text, whole


def _share(payment: records.Payment, refunded: int, disputed: int) -> int:
    gone = refunded + disputed
    if payment.amount_cents <= 0:
        return payment.micros if gone > 0 else 0
    return payment.micros * min(gone, payment.amount_cents) // payment.amount_cents


def _take(
    conn: Connection,
    payment: records.Payment,
    now: datetime,
    *,
    refunded: int,
    disputed: int,
    reference: str,
    why: str,
) -> str:
    target = _share(payment, refunded, disputed)
    more = target - payment.taken_back_micros
    records.set_taken_back(
        conn,
        payment.reference,
        refunded_cents=refunded,
        disputed_cents=disputed,
        micros=max(target, payment.taken_back_micros),
    )
    if more <= 0:
        return "nothing more to take back"
    account_id = owners.workspace_by_id(conn, payment.workspace_id).account_id
    result = payments.take_back(
        conn,
        account_id,
        more,
        now,
        reference=reference,
        paid_by=payment.reference,
        reason=f"{why} of {payment.reference.removeprefix('stripe:')}: "
        f"{credits_text(more)} taken back",
    )
    if result.owed:
        return f"took back {credits_text(more)}; {credits_text(result.owed)} owed"
    return f"took back {credits_text(more)}"


def on_refund(conn: Connection, charge: Mapping[str, Any], now: datetime) -> str:
    payment_intent = text(charge, "payment_intent")
    found = records.payment_by_intent(conn, payment_intent) if payment_intent else None
    if found is None:
        return "ignored: no payment of this workbench for the charge"
    refunded = whole(charge, "amount_refunded") or 0
    # A running total: never below what an earlier event reported.
    refunded = max(refunded, found.refunded_cents)
    return _take(
        conn,
        found,
        now,
        refunded=refunded,
        disputed=found.disputed_cents,
        reference=f"stripe:{text(charge, 'id')}:refunded:{refunded}",
        why="Stripe refund",
    )


def on_dispute_closed(conn: Connection, dispute: Mapping[str, Any], now: datetime) -> str:
    if text(dispute, "status") != "lost":
        return f"dispute {text(dispute, 'status')}: nothing taken back"
    payment_intent = text(dispute, "payment_intent")
    found = records.payment_by_intent(conn, payment_intent) if payment_intent else None
    if found is None:
        return "ignored: no payment of this workbench for the dispute"
    disputed = max(whole(dispute, "amount") or 0, found.disputed_cents)
    return _take(
        conn,
        found,
        now,
        refunded=found.refunded_cents,
        disputed=disputed,
        reference=f"stripe:{text(dispute, 'id')}",
        why="lost Stripe dispute",
    )
