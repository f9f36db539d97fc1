"""A workspace's plan as Stripe reports it (``customer.subscription.created|updated|deleted``).

Stripe does not promise to deliver events in order, so each row remembers the ``created`` time of
the event that set it (``state_at``) and an older event never overwrites a newer state. Events of
the same second cannot be ordered by their timestamps: the caller then passes the subscription as
Stripe has it now (``workbench.billing.events``), which is right whatever the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.billing import offers, records
from workbench.billing.stripe_objects import dig, positive_id, text, when
from workbench.db.schema import subscriptions


def _workspace(conn: Connection, sub: Mapping[str, Any], existing: Any) -> int | None:
    found = positive_id(dig(sub, "metadata"), "workspace_id")
    if found is not None:
        return found
    if existing is not None:
        return int(existing.workspace_id)
    customer = text(sub, "customer")
    return records.workspace_of_customer(conn, customer) if customer else None


def apply(
    conn: Connection, sub: Mapping[str, Any], state_at: int, now: datetime, *, deleted: bool
) -> str:
    """Keep ``sub`` as the workspace's plan state if it is at least as new as the one kept."""
    sub_id = text(sub, "id")
    if sub_id is None:
        return "ignored: no subscription id"
    existing = conn.execute(
        sa.select(subscriptions).where(subscriptions.c.id == sub_id).with_for_update()
    ).first()
    if existing is not None and existing.state_at > state_at:
        return "ignored: older than the state kept"
    workspace_id = _workspace(conn, sub, existing)
    if workspace_id is None:
        return "ignored: no workspace for this subscription"
    item = dig(sub, "items", "data", 0)
    price = text(item, "price")
    plan = offers.by_price(conn, price) if price else None
    values = {
        "workspace_id": workspace_id,
        "customer_id": text(sub, "customer"),
        "stripe_price": price,
        "offer_id": plan.id if plan is not None else None,
        "status": "canceled" if deleted else (text(sub, "status") or "unknown"),
        "current_period_end": when(item, "current_period_end"),
        "cancel_at_period_end": bool(dig(sub, "cancel_at_period_end")),
        "state_at": state_at,
        "updated_at": now,
    }
    if existing is None:
        conn.execute(subscriptions.insert().values(id=sub_id, **values))
    else:
        conn.execute(subscriptions.update().where(subscriptions.c.id == sub_id).values(**values))
    customer = text(sub, "customer")
    if customer:
        records.remember_customer(conn, workspace_id, customer, now)
    return f"subscription {values['status']}"


def state_at(conn: Connection, sub_id: str) -> int | None:
    found = conn.execute(
        sa.select(subscriptions.c.state_at).where(subscriptions.c.id == sub_id)
    ).scalar()
    return None if found is None else int(found)


def of_workspace(conn: Connection, workspace_id: int) -> Mapping[str, Any] | None:
    """The workspace's current subscription (the most recently updated one), as a row mapping."""
    row = conn.execute(
        sa.select(subscriptions)
        .where(subscriptions.c.workspace_id == workspace_id)
        .order_by(subscriptions.c.updated_at.desc(), subscriptions.c.state_at.desc())
        .limit(1)
    ).first()
    return None if row is None else dict(row._mapping)
