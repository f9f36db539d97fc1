"""Waiting for a payment to land: the credits of a checkout arrive when Stripe's webhook (or the
success page's own fulfilment) credits them, which may be a few seconds after the person paid.

A fragment re-reads the workspace's payments every :data:`POLL_S` seconds for at most
:data:`WATCH_FOR_S` after the wait began, and ends the wait with a whole-page rerun once the
payment is in, so the balance, the history and the sidebar show it without a reload.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from workbench.billing.fulfilment import reference
from workbench.billing.offers import OfferKind
from workbench.billing.records import Payment
from workbench.billing.service import Billing

POLL_S = 2.0
# A person may take a while on Stripe's page; after this the page stops asking (a reload asks
# again: the payment is credited whether or not a page watches).
WATCH_FOR_S = 30 * 60.0
# Subscription states in which the plan's invoices are being paid.
LIVE_PLAN = ("active", "trialing")


@dataclass(frozen=True)
class Awaited:
    """What a page waits for: a pack's payment (its Checkout Session) or a plan's first credits."""

    workspace_id: int
    kind: OfferKind
    session_id: str | None
    # time.monotonic() when the wait began.
    since: float


def landed(billing: Billing, awaited: Awaited) -> Payment | None:
    """The payment waited for, once it is credited: the session's own for a pack; for a plan,
    the newest plan payment once the subscription is live."""
    recent = billing.payments_of(awaited.workspace_id, limit=20)
    if awaited.kind == "pack":
        wanted = reference(awaited.session_id or "")
        return next((p for p in recent if p.reference == wanted), None)
    plan = billing.subscription_of(awaited.workspace_id)
    if plan is None or plan.get("status") not in LIVE_PLAN:
        return None
    return next((p for p in recent if p.kind == "plan"), None)


def still_watching(awaited: Awaited) -> bool:
    return time.monotonic() - awaited.since < WATCH_FOR_S


def watch(billing: Billing, awaited: Awaited, on_landed: Callable[[Payment], None]) -> None:
    """Poll until the payment lands, then ``on_landed`` (which must end the wait in session
    state) and rerun the whole page; after :data:`WATCH_FOR_S`, say so and stop polling."""
    live = still_watching(awaited)

    @st.fragment(run_every=POLL_S if live else None)
    def _poll() -> None:
        payment = landed(billing, awaited)
        if payment is not None:
            on_landed(payment)
            st.rerun(scope="app")
        if live and not still_watching(awaited):
            st.rerun(scope="app")  # the next run draws this without a timer
        if live:
            st.caption("Waiting for Stripe to confirm the payment; this updates by itself.")
        else:
            st.caption(
                "This page has stopped checking. A payment is credited whether or not a page "
                "watches: reload to see it."
            )

    _poll()
