"""Starting a purchase: a Stripe Checkout Session for a pack (mode ``payment``) or a plan (mode
``subscription``), and a Billing Portal session to manage a plan.

The session carries everything fulfilment needs in its ``metadata`` (workspace, user, offer and
the credits it gives, fixed at the moment of the click so a later catalogue change cannot alter
what was bought) and in ``client_reference_id``. Each click has its own idempotency key, so a
double click or a rerun opens the same session instead of two. Every workspace gets one Stripe
customer, made before its first checkout, so its payment method is saved for auto top-up and the
portal finds its subscriptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger import authority, db, owners
from ledger.errors import InvalidInput, NotAllowed
from ledger.schema import workspaces
from workbench.billing import offers, records
from workbench.billing.offers import OfferKind
from workbench.billing.stripe_api import StripeApi


@dataclass(frozen=True)
class CheckoutStarted:
    session_id: str
    url: str


def _check_buyer(engine: Engine, user_id: int, workspace_id: int, kind: OfferKind) -> None:
    """Any member may buy a pack for their workspace; a plan (a monthly charge) and its portal
    are for the workspace's admins and operators."""
    with db.read_only_connection(engine) as conn:
        if kind == "plan":
            authority.require_manager(conn, user_id, workspace_id, "subscribe to a plan")
            return
        if owners.membership(conn, workspace_id, user_id) is None:
            who = authority.actor(conn, user_id)
            if not who.is_operator:
                raise NotAllowed(
                    "only a member of this workspace may buy credits for it",
                    actor_user_id=user_id,
                    action="buy credits",
                    workspace_id=workspace_id,
                )


def customer_for(
    engine: Engine, api: StripeApi, workspace_id: int, now: Callable[[], datetime]
) -> str:
    """The workspace's Stripe customer, made (once, whatever the race) on first need."""
    with db.read_only_connection(engine) as conn:
        known = records.customer_of(conn, workspace_id)
        workspace = owners.workspace_by_id(conn, workspace_id)
        created = conn.execute(
            sa.select(workspaces.c.created_at).where(workspaces.c.id == workspace_id)
        ).scalar_one()
    if known:
        return known
    created_us = int(created.timestamp() * 1_000_000)
    # The idempotency key makes concurrent first checkouts of one workspace get one customer;
    # the workspace's creation time keeps it apart from the same id in another database on the
    # same Stripe account (staging beside production, a reset database).
    made = api.create_customer(
        workspace_id=workspace_id,
        name=workspace.name or workspace.slug,
        idempotency_key=f"workbench-customer-{workspace_id}-{created_us}",
    )
    customer = str(made["id"])
    with db.write_transaction(engine) as conn:
        records.remember_customer(conn, workspace_id, customer, now())
        return records.customer_of(conn, workspace_id) or customer


def start_checkout(
    engine: Engine,
    api: StripeApi,
    now: Callable[[], datetime],
    *,
    workspace_id: int,
    user_id: int,
    kind: OfferKind,
    offer_id: str,
    return_url: str,
    key: str,
) -> CheckoutStarted:
    """A Checkout Session for ``offer_id``; ``return_url`` is the My credits page's address (the
    session id is added for the way back), ``key`` the click's idempotency key."""
    if not key or len(key) > 200:
        raise InvalidInput("a checkout needs an idempotency key of 1 to 200 characters")
    _check_buyer(engine, user_id, workspace_id, kind)
    with db.read_only_connection(engine) as conn:
        offer = offers.by_id(conn, kind, offer_id)
    if offer is None or not offer.buyable:
        raise InvalidInput(f"there is no {kind} {offer_id!r} that can be bought")
    assert offer.stripe_price is not None
    customer = customer_for(engine, api, workspace_id, now)
    separator = "&" if "?" in return_url else "?"
    metadata = {
        "workspace_id": str(workspace_id),
        "user_id": str(user_id),
        "offer_kind": kind,
        "offer_id": offer.id,
        "micros": str(offer.micros),
    }
    session = api.create_checkout_session(
        mode="payment" if kind == "pack" else "subscription",
        price=offer.stripe_price,
        customer=customer,
        client_reference_id=f"ws{workspace_id}-u{user_id}-{offer.id}",
        metadata=metadata,
        success_url=f"{return_url}{separator}checkout={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{return_url}{separator}checkout=cancelled",
        idempotency_key=f"checkout-{key}",
        save_payment_method=kind == "pack",
    )
    if not session.get("url"):
        # A key reused after its session ended: Stripe returns the session, without a page.
        raise InvalidInput("that checkout has already ended: start a new purchase")
    return CheckoutStarted(str(session["id"]), str(session["url"]))


def open_portal(
    engine: Engine, api: StripeApi, *, workspace_id: int, user_id: int, return_url: str
) -> str:
    """A Billing Portal session's address, where an admin changes or cancels the plan."""
    _check_buyer(engine, user_id, workspace_id, "plan")
    with db.read_only_connection(engine) as conn:
        customer = records.customer_of(conn, workspace_id)
    if customer is None:
        raise InvalidInput("this workspace has no Stripe customer yet: subscribe first")
    return str(api.create_portal_session(customer=customer, return_url=return_url)["url"])
