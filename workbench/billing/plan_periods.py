"""A plan's month of credits: each paid invoice of a subscription becomes one ``plan`` grant named
``stripe:<invoice id>`` that expires when the invoice's period ends, so the previous period's
unspent plan credits expire as the next period's arrive (``ledger.grants`` expires them by the
database clock; a capture or the sweeper notices).

Where to credit comes from the subscription's metadata (set at checkout, copied by Stripe onto
the invoice at ``parent.subscription_details.metadata``); how much from the plan whose Stripe
Price ID the invoice's first line is for, so a plan changed in the billing portal is credited at
its new size.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.amounts import credits_text
from workbench.billing import offers, records
from workbench.billing.fulfilment import Fulfilment
from workbench.billing.stripe_objects import dig, positive_id, text, when, whole
from workbench.db.schema import subscriptions


def _workspace(conn: Connection, invoice: Mapping[str, Any]) -> int | None:
    details = dig(invoice, "parent", "subscription_details")
    found = positive_id(dig(details, "metadata"), "workspace_id")
    if found is not None:
        return found
    # A subscription made outside this app's checkout: known by the row its events left.
    subscription = text(details, "subscription")
    if subscription is None:
        return None
    row = conn.execute(
        sa.select(subscriptions.c.workspace_id).where(subscriptions.c.id == subscription)
    ).scalar()
    return None if row is None else int(row)


def credit_invoice(conn: Connection, invoice: Mapping[str, Any], now: datetime) -> Fulfilment:
    invoice_id = text(invoice, "id")
    if (
        invoice_id is None
        or text(invoice, "parent", "subscription_details", "subscription") is None
    ):
        return Fulfilment("ignored: not a subscription invoice")
    if dig(invoice, "status") not in ("paid", None):
        return Fulfilment(f"ignored: invoice is {dig(invoice, 'status')}")
    workspace_id = _workspace(conn, invoice)
    if workspace_id is None:
        return Fulfilment("ignored: no workspace for this subscription")
    line = dig(invoice, "lines", "data", 0)
    price = text(line, "pricing", "price_details", "price") or text(line, "price")
    plan = offers.by_price(conn, price) if price else None
    if plan is None or plan.kind != "plan":
        return Fulfilment(f"ignored: price {price} is no plan of the catalogue", workspace_id)
    period_end = when(line, "period", "end")
    if period_end is None or period_end <= now:
        return Fulfilment("ignored: the invoice's period is already over", workspace_id)
    credited = records.credit_purchase(
        conn,
        records.Purchase(
            reference=f"stripe:{invoice_id}",
            kind="plan",
            workspace_id=workspace_id,
            offer_id=plan.id,
            micros=plan.micros,
            amount_cents=whole(invoice, "amount_paid") or 0,
            currency=text(invoice, "currency") or "usd",
            payment_intent=text(invoice, "payments", "data", 0, "payment", "payment_intent"),
            reason=f"Stripe invoice {invoice_id}: plan {plan.name}, {credits_text(plan.micros)} "
            f"until {period_end:%Y-%m-%d %H:%M} UTC",
            grant_kind="plan",
            expires_at=period_end,
        ),
        now,
    )
    if not credited.created:
        return Fulfilment("already granted", workspace_id, credited.grant_id)
    customer = text(invoice, "customer")
    if customer:
        records.remember_customer(conn, workspace_id, customer, now)
    return Fulfilment("granted", workspace_id, credited.grant_id)
