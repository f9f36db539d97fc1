"""My credits' shop: the packs and plans on offer, "Buy" and "Subscribe" (a Stripe Checkout
Session), the workspace's plan and "Manage subscription" (a Billing Portal session).

Streamlit cannot send the browser to another site from Python, and every link it draws
(``st.link_button``, a Markdown link) opens a new tab. So a click on "Buy" creates the Checkout
Session on the server and the page then offers it as a "Continue to Stripe Checkout" link: the
person pays in a new tab, Stripe sends that tab back to My credits (``checkout_return``), and this
tab watches for the payment and shows the credits when they land (``checkout_watch``).

One idempotency key per purchase, kept in session state from the first click until the purchase
ends here (credited, or "Start over"): a double click, or a rerun that interrupted the first
request, asks Stripe again with the same key and gets the same session, never a second one.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import streamlit as st

from ledger.amounts import credits_text, format_credits
from ledger.errors import LedgerError
from workbench.billing.offers import Offer, OfferKind
from workbench.billing.records import Payment
from workbench.billing.service import NOT_CONFIGURED, BillingNotConfigured
from workbench.billing.stripe_api import StripeFailure
from workbench.bootstrap import Services
from workbench.ui.cached_reads import offers
from workbench.ui.checkout_watch import LIVE_PLAN, Awaited, watch
from workbench.ui.chrome import flash
from workbench.ui.messages import escape_markdown, sentence
from workbench.ui.page_registry import spec
from workbench.ui.session import SignedIn

CHECKOUT_KEY = "billing_checkout"
PORTAL_KEY = "billing_portal"
PROBLEM_KEY = "billing_problem"
WORKSPACE_PARAM = "workspace"
# AppTest has no browser URL (``st.context.url`` is None there); Stripe is then never visited.
_NO_BROWSER = "http://localhost"
# Plan states that have a plan to manage rather than one to subscribe to.
HAS_PLAN = (*LIVE_PLAN, "past_due", "unpaid", "incomplete")
PLAN_STATUS = {
    "active": "active",
    "trialing": "in its trial",
    "past_due": "payment overdue",
    "unpaid": "unpaid",
    "incomplete": "waiting for the first payment",
    "incomplete_expired": "never paid",
    "canceled": "ended",
    "paused": "paused",
}
BUY_FAILED = (StripeFailure, BillingNotConfigured, LedgerError)


@dataclass(frozen=True)
class PendingCheckout:
    """This tab's purchase in progress, from the first click until it ends here."""

    workspace_id: int
    kind: OfferKind
    offer_id: str
    key: str
    since: float  # time.monotonic() at the first click
    session_id: str | None = None
    url: str | None = None


def return_address(workspace_id: int) -> str:
    """My credits' address as the browser sees it, naming the workspace: Stripe sends the buyer
    back here (in a new tab, a new session, which then opens that workspace)."""
    page = st.context.url or f"{_NO_BROWSER}/{spec('credits').url_path}"
    return f"{page}?{WORKSPACE_PARAM}={workspace_id}"


def pending_here(who: SignedIn) -> PendingCheckout | None:
    pending: PendingCheckout | None = st.session_state.get(CHECKOUT_KEY)
    return pending if pending is not None and pending.workspace_id == who.workspace.id else None


def forget_checkout() -> None:
    st.session_state.pop(CHECKOUT_KEY, None)


def _start(svc: Services, who: SignedIn, offer: Offer, return_url: str) -> None:
    """Buy / Subscribe: make (or find again) this purchase's Checkout Session."""
    st.session_state.pop(PROBLEM_KEY, None)
    pending = pending_here(who)
    if pending is None or (pending.kind, pending.offer_id) != (offer.kind, offer.id):
        pending = PendingCheckout(
            who.workspace.id, offer.kind, offer.id, uuid.uuid4().hex, time.monotonic()
        )
        # Kept before Stripe is asked: a click landing while this request runs reuses the key.
        st.session_state[CHECKOUT_KEY] = pending
    if pending.url is not None:
        return  # already made: its link is on the page
    try:
        started = svc.billing.start_checkout(
            workspace_id=who.workspace.id,
            user_id=who.user.id,
            kind=offer.kind,
            offer_id=offer.id,
            return_url=return_url,
            key=pending.key,
        )
    except BUY_FAILED as error:
        st.session_state[PROBLEM_KEY] = error  # shown by the run this click starts
        return
    st.session_state[CHECKOUT_KEY] = replace(
        pending, session_id=started.session_id, url=started.url
    )


def _open_portal(svc: Services, who: SignedIn, return_url: str) -> None:
    st.session_state.pop(PROBLEM_KEY, None)
    try:
        url = svc.billing.open_portal(
            workspace_id=who.workspace.id, user_id=who.user.id, return_url=return_url
        )
    except BUY_FAILED as error:
        st.session_state[PROBLEM_KEY] = error
        return
    st.session_state[PORTAL_KEY] = (who.workspace.id, url)


def _landed(payment: Payment) -> None:
    forget_checkout()
    flash(f"Payment received: {credits_text(payment.micros)} added.")


def offer_line(offer: Offer) -> str:
    """An offer as Markdown: its name, note and price are typed into a file, so escaped."""
    name, price = escape_markdown(offer.name), escape_markdown(offer.price_usd)
    note = f" · {escape_markdown(offer.note)}" if offer.note else ""
    amount = format_credits(offer.micros)
    if offer.kind == "plan":
        return f"**{name}**: {amount} credits a month for US${price} a month{note}"
    return f"**{name}**: {amount} credits for US${price}{note}"


def shop(svc: Services, who: SignedIn) -> None:
    """Packs, plans, the plan in force, and whatever purchase this tab has in progress."""
    configured = svc.billing.configured
    here = return_address(who.workspace.id)
    st.subheader("Credit packs")
    if not configured:
        st.info(NOT_CONFIGURED)
    problem: Exception | None = st.session_state.pop(PROBLEM_KEY, None)
    if problem is not None:
        st.error(sentence(problem))
    pending_panel(svc, who)
    for offer in offers("pack"):
        _offer_row(svc, who, offer, here, can_buy=configured)
    st.subheader("Plans")
    plan = svc.billing.subscription_of(who.workspace.id)
    if plan is not None:
        st.markdown(plan_status(plan, {o.id: o for o in offers("plan")}))
    subscribed = plan is not None and plan.get("status") in HAS_PLAN
    for offer in offers("plan"):
        _offer_row(svc, who, offer, here, can_buy=configured and who.is_admin and not subscribed)
    if not who.is_admin:
        st.caption("Workspace admins subscribe to a plan and manage it.")
    elif configured and (plan is not None or svc.billing.has_customer(who.workspace.id)):
        portal_button(svc, who, here)


def _offer_row(svc: Services, who: SignedIn, offer: Offer, here: str, *, can_buy: bool) -> None:
    text, action = st.columns([5, 1], vertical_alignment="center")
    text.markdown(offer_line(offer))
    if not can_buy:
        return
    if not offer.buyable:
        action.caption("Not on sale online")
        return
    action.button(
        "Buy" if offer.kind == "pack" else "Subscribe",
        key=f"{offer.kind}-{offer.id}",
        type="primary" if offer.kind == "plan" else "secondary",
        on_click=_start,
        args=(svc, who, offer, here),
    )


def pending_panel(svc: Services, who: SignedIn) -> None:
    """The link to this tab's Checkout Session, and the wait for its payment."""
    pending = pending_here(who)
    if pending is None or pending.url is None:
        return
    names = {o.id: o.name for o in offers(pending.kind)}
    with st.container(border=True):
        st.markdown(
            f"**Your checkout for {escape_markdown(names.get(pending.offer_id, pending.offer_id))}"
            " is ready.**"
        )
        st.link_button(
            "Continue to Stripe Checkout",
            pending.url,
            type="primary",
            icon=":material/open_in_new:",
        )
        st.caption(
            "Stripe's page opens in a new tab. The credits show here as soon as the payment "
            "arrives."
        )
        awaited = Awaited(who.workspace.id, pending.kind, pending.session_id, pending.since)
        watch(svc.billing, awaited, _landed)
        st.button(
            "Start over",
            key="checkout_forget",
            on_click=forget_checkout,
            help="Forget this checkout here. A payment made on its Stripe page is still credited.",
        )


def portal_button(svc: Services, who: SignedIn, here: str) -> None:
    opened = st.session_state.get(PORTAL_KEY)
    if opened is not None and opened[0] == who.workspace.id:
        st.link_button(
            "Open the billing portal", opened[1], type="primary", icon=":material/open_in_new:"
        )
        st.caption("In a new tab: change or cancel the plan, update the card, see invoices.")
        return
    st.button(
        "Manage subscription",
        key="manage_subscription",
        on_click=_open_portal,
        args=(svc, who, here),
    )


def plan_status(plan: Any, plans: dict[str, Offer]) -> str:
    """ "Current plan: **Team monthly**, active, renews on 2026-12-30." (Markdown, escaped)."""
    offer = plans.get(str(plan.get("offer_id") or ""))
    name = escape_markdown(offer.name) if offer is not None else "a plan no longer on offer"
    status = str(plan.get("status") or "unknown")
    said = PLAN_STATUS[status] if status in PLAN_STATUS else escape_markdown(status)
    end: datetime | None = plan.get("current_period_end")
    when = ""
    if end is not None and status not in ("canceled", "incomplete_expired"):
        verb = "ends" if plan.get("cancel_at_period_end") else "renews"
        when = f", {verb} on {end:%Y-%m-%d}"
    return f"Current plan: **{name}**, {said}{when}."
