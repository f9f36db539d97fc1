"""Billing's own rows beside the ledger's: a workspace's Stripe customer and the payments credited
(what each bought, and what refunds and disputes took back). Every function runs in a
transaction the caller opened, the one that also moves the credits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import owners
from ledger import payments as ledger_payments
from workbench.db.schema import billing_customers, payments


@dataclass(frozen=True)
class Payment:
    reference: str
    kind: str
    workspace_id: int
    offer_id: str | None
    grant_id: int
    micros: int
    amount_cents: int
    currency: str
    payment_intent: str | None
    refunded_cents: int
    disputed_cents: int
    taken_back_micros: int
    created_at: datetime


@dataclass(frozen=True)
class Purchase:
    """A payment to credit: what it bought and where, as its Stripe object says."""

    reference: str  # stripe:<Checkout Session | Invoice | PaymentIntent id>
    kind: str  # pack, plan or auto_top_up
    workspace_id: int
    offer_id: str | None
    micros: int
    amount_cents: int
    currency: str
    payment_intent: str | None
    reason: str
    grant_kind: str = "paid"
    expires_at: datetime | None = None


def credit_purchase(
    conn: Connection, purchase: Purchase, now: datetime
) -> ledger_payments.Credited:
    """The purchase's one grant and its ``payments`` row; an earlier call's grant if it was
    credited already (``created`` False, nothing written)."""
    account_id = owners.workspace_by_id(conn, purchase.workspace_id).account_id
    credited = ledger_payments.credit(
        conn,
        account_id,
        purchase.micros,
        purchase.grant_kind,
        now,
        reference=purchase.reference,
        reason=purchase.reason,
        expires_at=purchase.expires_at,
    )
    if credited.created:
        record_payment(
            conn,
            Payment(
                reference=purchase.reference,
                kind=purchase.kind,
                workspace_id=purchase.workspace_id,
                offer_id=purchase.offer_id,
                grant_id=credited.grant_id,
                micros=purchase.micros,
                amount_cents=purchase.amount_cents,
                currency=purchase.currency,
                payment_intent=purchase.payment_intent,
                refunded_cents=0,
                disputed_cents=0,
                taken_back_micros=0,
                created_at=now,
            ),
        )
    return credited


def customer_of(conn: Connection, workspace_id: int) -> str | None:
    found = conn.execute(
        sa.select(billing_customers.c.customer_id).where(
            billing_customers.c.workspace_id == workspace_id
        )
    ).scalar()
    return None if found is None else str(found)


def workspace_of_customer(conn: Connection, customer_id: str) -> int | None:
    found = conn.execute(
        sa.select(billing_customers.c.workspace_id).where(
            billing_customers.c.customer_id == customer_id
        )
    ).scalar()
    return None if found is None else int(found)


def remember_customer(conn: Connection, workspace_id: int, customer_id: str, now: datetime) -> None:
    """Keep the first customer Stripe made for a workspace (later checkouts pass it back)."""
    if customer_of(conn, workspace_id) is None and workspace_of_customer(conn, customer_id) is None:
        conn.execute(
            billing_customers.insert().values(
                workspace_id=workspace_id, customer_id=customer_id, created_at=now
            )
        )


def record_payment(conn: Connection, payment: Payment) -> None:
    conn.execute(
        payments.insert().values(
            reference=payment.reference,
            kind=payment.kind,
            workspace_id=payment.workspace_id,
            offer_id=payment.offer_id,
            grant_id=payment.grant_id,
            micros=payment.micros,
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            payment_intent=payment.payment_intent,
            created_at=payment.created_at,
        )
    )


def _payment(row: sa.Row[tuple[object, ...]] | None) -> Payment | None:
    if row is None:
        return None
    m = row._mapping
    return Payment(**{name: m[name] for name in Payment.__dataclass_fields__})


def payment(conn: Connection, reference: str) -> Payment | None:
    return _payment(
        conn.execute(sa.select(payments).where(payments.c.reference == reference)).first()
    )


def payment_by_intent(conn: Connection, payment_intent: str) -> Payment | None:
    """The payment a charge's PaymentIntent paid for, locked for this transaction: refunds and
    disputes of one payment are applied one after the other."""
    query = sa.select(payments).where(payments.c.payment_intent == payment_intent).with_for_update()
    return _payment(conn.execute(query).first())


def set_taken_back(
    conn: Connection, reference: str, *, refunded_cents: int, disputed_cents: int, micros: int
) -> None:
    conn.execute(
        payments.update()
        .where(payments.c.reference == reference)
        .values(
            refunded_cents=refunded_cents, disputed_cents=disputed_cents, taken_back_micros=micros
        )
    )


def payments_of(conn: Connection, workspace_id: int, limit: int = 50) -> list[Payment]:
    query = (
        sa.select(payments)
        .where(payments.c.workspace_id == workspace_id)
        .order_by(payments.c.created_at.desc())
        .limit(limit)
    )
    return [p for row in conn.execute(query) if (p := _payment(row)) is not None]
