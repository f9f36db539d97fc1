"""The way back from Stripe Checkout: My credits opened with ``?checkout=<session id>`` (Stripe
puts the id in the success URL) or ``?checkout=cancelled`` (the cancel URL).

The success page fulfils the payment itself, as Stripe's fulfilment guidance recommends, through
the webhook's own idempotent function (``Billing.fulfil_returning``): it asks Stripe for the
session (never trusting the browser), credits it if paid and for this workspace, and whichever of
the page and the webhook comes second finds it done. Once per session id and tab: the outcome is
kept in session state, so reruns and the watcher's polls do not ask Stripe again.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import Literal

import streamlit as st

from ledger.amounts import credits_text
from ledger.errors import NotFound
from workbench.billing.fulfilment import reference
from workbench.billing.offers import OfferKind
from workbench.billing.records import Payment
from workbench.billing.service import NOT_CONFIGURED, BillingNotConfigured
from workbench.billing.stripe_api import StripeFailure
from workbench.bootstrap import Services
from workbench.ui.checkout_watch import Awaited, landed, watch
from workbench.ui.purchases import WORKSPACE_PARAM, forget_checkout
from workbench.ui.session import WORKSPACE_KEY, SignedIn

CHECKOUT_PARAM = "checkout"
CANCELLED = "cancelled"
RETURNS_KEY = "checkout_returns"
# Stripe's Checkout Session ids: "cs_test_…" / "cs_live_…". Anything else is not asked about.
SESSION_ID = re.compile(r"cs_[A-Za-z0-9_]{1,250}")

State = Literal["credited", "arriving", "subscribed", "not_ours", "unknown", "not_configured"]

CREDITS_ARRIVING = "Payment received — credits arriving."
MESSAGES: dict[str, str] = {
    "cancelled": "Checkout cancelled, nothing was charged.",
    "not_ours": (
        "That checkout is not one of this workspace's, so nothing was credited here. If you "
        "paid for another workspace, switch to it to see the credits."
    ),
    "unknown": "That is not a checkout of this workbench: nothing was credited.",
    "unreachable": (
        "Stripe could not confirm the payment just now; if you paid, the credits arrive here "
        "as soon as Stripe reports it."
    ),
    "subscribed": "Subscription started — the plan's credits are arriving with its first invoice.",
}


@dataclass(frozen=True)
class Returned:
    """What the page knows about one returning checkout."""

    state: State
    workspace_id: int
    kind: OfferKind
    since: float  # time.monotonic() when the page first saw it
    micros: int | None = None
    # Stripe could not be asked: said beside "credits arriving".
    unconfirmed: bool = False


def classify(svc: Services, session_id: str, workspace_id: int) -> Returned:
    """Fulfil the returning session once and say what happened (nothing is credited unless
    Stripe says the session is paid and for this workspace)."""
    start = time.monotonic()

    def said(
        state: State, kind: OfferKind = "pack", micros: int | None = None, unconfirmed: bool = False
    ) -> Returned:
        return Returned(state, workspace_id, kind, start, micros, unconfirmed)

    if not SESSION_ID.fullmatch(session_id):
        return said("unknown")
    try:
        done = svc.billing.fulfil_returning(session_id, workspace_id)
    except BillingNotConfigured:
        return said("not_configured")
    except StripeFailure as failure:
        if failure.code == "resource_missing":
            return said("unknown")
        # Unreachable or refused for now: the webhook still credits it; wait for that.
        return said("arriving", unconfirmed=True)
    except NotFound:
        return said("unknown")
    if done.outcome.startswith("ignored"):
        return said("not_ours")
    if done.outcome == "customer linked":
        return said("subscribed", "plan")
    if done.credited:
        return said("credited", micros=_bought(svc, session_id, workspace_id))
    return said("arriving")  # "not paid yet": a bank debit still processing


def _bought(svc: Services, session_id: str, workspace_id: int) -> int | None:
    wanted = reference(session_id)
    found = next((p for p in svc.billing.payments_of(workspace_id) if p.reference == wanted), None)
    return None if found is None else found.micros


def show(svc: Services, who: SignedIn) -> None:
    """Above My credits' figures: what became of the checkout this page was opened from."""
    value = st.query_params.get(CHECKOUT_PARAM)
    if value is None:
        return
    if _open_the_workspace_paid_for(who):
        st.rerun()
    if value == CANCELLED:
        forget_checkout()
        st.info(MESSAGES["cancelled"])
        return
    # Per tab, session and workspace: reruns and polls ask Stripe once (a reload asks again,
    # harmlessly: fulfilment is idempotent).
    returns: dict[tuple[int, str], Returned] = st.session_state.setdefault(RETURNS_KEY, {})
    slot = (who.workspace.id, value)
    known = returns.get(slot)
    if known is None:
        known = returns[slot] = classify(svc, value, who.workspace.id)
    if known.state in ("arriving", "subscribed"):
        payment = landed(svc.billing, _awaited(value, known))
        if payment is not None:
            known = returns[slot] = replace(known, state="credited", micros=payment.micros)
    _say(svc, value, known, returns)


def _say(
    svc: Services, session_id: str, known: Returned, returns: dict[tuple[int, str], Returned]
) -> None:
    if known.state == "credited":
        added = f": {credits_text(known.micros)} added" if known.micros else ""
        st.success(f"Payment received{added}. Thank you!")
        return
    if known.state == "not_configured":
        st.info(NOT_CONFIGURED)
        return
    if known.state in ("not_ours", "unknown"):
        st.error(MESSAGES[known.state])
        return
    st.info(MESSAGES["subscribed"] if known.state == "subscribed" else CREDITS_ARRIVING)
    if known.unconfirmed:
        st.caption(MESSAGES["unreachable"])

    def arrived(payment: Payment) -> None:
        returns[(known.workspace_id, session_id)] = replace(
            known, state="credited", micros=payment.micros
        )

    watch(svc.billing, _awaited(session_id, known), arrived)


def _awaited(session_id: str, known: Returned) -> Awaited:
    return Awaited(known.workspace_id, known.kind, session_id, known.since)


def _open_the_workspace_paid_for(who: SignedIn) -> bool:
    """Stripe's return lands in a new tab, which opens the person's first workspace: switch to
    the one the checkout was for (the return URL names it) if they are a member of it. True when
    the page must run again in that workspace."""
    wanted = st.query_params.get(WORKSPACE_PARAM)
    if wanted is None or not wanted.isdigit() or int(wanted) == who.workspace.id:
        return False
    if int(wanted) not in {w.id for w in who.workspaces}:
        return False
    st.session_state[WORKSPACE_KEY] = int(wanted)
    # Once: a later choice in the sidebar is not overridden by the address.
    del st.query_params[WORKSPACE_PARAM]
    return True
