"""Fulfilment of a Checkout Session: the one function both the webhook and the success page run
(Stripe's fulfilment guidance), so whichever comes first credits the payment and the other finds
it done.

A pack's payment becomes one ``paid`` grant named ``stripe:<session id>`` (the ledger's grants are
unique by reference) and one ``payments`` row; only when ``payment_status`` is ``paid`` (a bank
debit completes the session unpaid, and ``async_payment_succeeded`` brings the same session back
paid). A subscription's checkout only links the workspace to its customer: the plan's credits come
with each paid invoice (``workbench.billing.plan_periods``).

What a session is for comes from the ``metadata`` this app put on it when it was created
(``workbench.billing.checkout``); Stripe returns it as set, and only to a signed event or to a
request made with our secret key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from ledger import owners
from ledger.amounts import credits_text
from workbench.billing import records
from workbench.billing.stripe_objects import dig, positive_id, text, whole


@dataclass(frozen=True)
class Fulfilment:
    # "granted", "already granted", "not paid yet", "customer linked", or "ignored: why".
    outcome: str
    workspace_id: int | None = None
    grant_id: int | None = None

    @property
    def credited(self) -> bool:
        return self.grant_id is not None


def reference(session_id: str) -> str:
    return f"stripe:{session_id}"


def fulfil_checkout(conn: Connection, session: Mapping[str, Any], now: datetime) -> Fulfilment:
    session_id = text(session, "id")
    metadata = dig(session, "metadata")
    workspace_id = positive_id(metadata, "workspace_id")
    if session_id is None or workspace_id is None:
        return Fulfilment("ignored: not a checkout of this workbench (no workspace in metadata)")
    owners.workspace_by_id(conn, workspace_id)  # NotFound if the workspace is gone
    customer = text(session, "customer")
    if customer:
        records.remember_customer(conn, workspace_id, customer, now)
    if dig(session, "mode") == "subscription":
        return Fulfilment("customer linked", workspace_id)
    if dig(session, "payment_status") != "paid":
        return Fulfilment("not paid yet", workspace_id)
    micros = positive_id(metadata, "micros")
    if micros is None:
        return Fulfilment("ignored: no credits in metadata", workspace_id)
    offer_id = text(metadata, "offer_id")
    credited = records.credit_purchase(
        conn,
        records.Purchase(
            reference=reference(session_id),
            kind="pack",
            workspace_id=workspace_id,
            offer_id=offer_id,
            micros=micros,
            amount_cents=whole(session, "amount_total") or 0,
            currency=text(session, "currency") or "usd",
            payment_intent=text(session, "payment_intent"),
            reason=f"Stripe payment {session_id}: {offer_id or 'credit pack'}, "
            f"{credits_text(micros)}",
        ),
        now,
    )
    if not credited.created:
        return Fulfilment("already granted", workspace_id, credited.grant_id)
    return Fulfilment("granted", workspace_id, credited.grant_id)
