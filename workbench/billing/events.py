"""Stripe events, acted on exactly once: the event's id is stored in ``stripe_events`` in the
transaction of its effect, so a redelivery (Stripe retries until it gets a 2xx; the same event can
also arrive twice at once) finds it and does nothing; a failure rolls both back and Stripe's
retry tries again. Payments are also unique by their own object (``ledger.payments``), so one
payment reported by several events is credited once.

Types handled (anything else is recorded as ignored and acknowledged):

- ``checkout.session.completed`` and ``checkout.session.async_payment_succeeded``: fulfil the
  session (``fulfilment``: a grant when paid); ``…async_payment_failed``: recorded, nothing else.
- ``invoice.paid`` / ``invoice.payment_succeeded``: a plan period (``plan_periods``).
- ``customer.subscription.created|updated|deleted``: plan state (``subscription_state``).
- ``charge.refunded``, ``charge.dispute.closed``: take back (``reversals``).
- ``payment_intent.succeeded|payment_failed`` of an auto top-up (``auto_top_up``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ledger import db
from ledger.errors import InvalidInput, NotFound
from workbench.billing import auto_top_up, fulfilment, plan_periods, reversals, subscription_state
from workbench.billing.stripe_api import StripeApi
from workbench.billing.stripe_objects import dig, text, whole
from workbench.db.schema import stripe_events

log = logging.getLogger("workbench.billing")

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    type: str
    outcome: str
    duplicate: bool = False


Handler = Callable[[Connection, Mapping[str, Any], int, datetime], str]


def _checkout(conn: Connection, obj: Mapping[str, Any], created: int, now: datetime) -> str:
    return fulfilment.fulfil_checkout(conn, obj, now).outcome


def _async_failed(conn: Connection, obj: Mapping[str, Any], created: int, now: datetime) -> str:
    return "payment failed: nothing granted"


def _invoice(conn: Connection, obj: Mapping[str, Any], created: int, now: datetime) -> str:
    return plan_periods.credit_invoice(conn, obj, now).outcome


def _subscription(deleted: bool) -> Handler:
    def handle(conn: Connection, obj: Mapping[str, Any], created: int, now: datetime) -> str:
        return subscription_state.apply(conn, obj, created, now, deleted=deleted)

    return handle


def _refund(conn: Connection, obj: Mapping[str, Any], created: int, now: datetime) -> str:
    return reversals.on_refund(conn, obj, now)


def _dispute(conn: Connection, obj: Mapping[str, Any], created: int, now: datetime) -> str:
    return reversals.on_dispute_closed(conn, obj, now)


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _checkout,
    "checkout.session.async_payment_succeeded": _checkout,
    "checkout.session.async_payment_failed": _async_failed,
    "invoice.paid": _invoice,
    "invoice.payment_succeeded": _invoice,
    "customer.subscription.created": _subscription(False),
    "customer.subscription.updated": _subscription(False),
    "customer.subscription.deleted": _subscription(True),
    "charge.refunded": _refund,
    "charge.dispute.closed": _dispute,
    "payment_intent.succeeded": auto_top_up.on_payment_succeeded,
    "payment_intent.payment_failed": auto_top_up.on_payment_failed,
}


def _seen(conn: Connection, event_id: str) -> bool:
    found = conn.execute(sa.select(stripe_events.c.id).where(stripe_events.c.id == event_id))
    return found.first() is not None


def _current(
    engine: Engine, kind: str, obj: Mapping[str, Any], created: int, api: StripeApi | None
) -> Mapping[str, Any]:
    """What Stripe has now, where an event alone cannot be trusted to be current or complete:
    a subscription event of the same second as the state kept, a dispute without its
    PaymentIntent. Read before the transaction (no network call while holding a lock)."""
    if api is None:
        return obj
    if kind in SUBSCRIPTION_EVENTS and kind != "customer.subscription.deleted":
        sub_id = text(obj, "id")
        with db.read_only_connection(engine) as conn:
            kept = subscription_state.state_at(conn, sub_id) if sub_id else None
        if sub_id and kept == created:
            return api.retrieve_subscription(sub_id)
    if kind == "charge.dispute.closed" and text(obj, "payment_intent") is None:
        charge_id = text(obj, "charge")
        if charge_id:
            charge = api.retrieve_charge(charge_id)
            return {**obj, "payment_intent": text(charge, "payment_intent")}
    return obj


def handle(
    engine: Engine,
    event: Mapping[str, Any],
    now: Callable[[], datetime],
    api: StripeApi | None = None,
) -> EventOutcome:
    """Act on a verified event once. Raises only for what Stripe should retry (the database
    unavailable, a bug): the transaction then rolls back and nothing is recorded."""
    event_id = text(event, "id")
    kind = text(event, "type")
    created = whole(event, "created")
    obj = dig(event, "data", "object")
    if event_id is None or kind is None or created is None or not isinstance(obj, Mapping):
        raise InvalidInput("not a Stripe event (id, type, created and data.object are needed)")
    handler = HANDLERS.get(kind)
    if handler is not None:
        with db.read_only_connection(engine) as conn:
            if _seen(conn, event_id):
                return EventOutcome(event_id, kind, "already handled", duplicate=True)
        obj = _current(engine, kind, obj, created, api)
    try:
        with db.write_transaction(engine) as conn:
            if _seen(conn, event_id):
                return EventOutcome(event_id, kind, "already handled", duplicate=True)
            when = now()
            # Claim the id first: a concurrent delivery of the same event waits on this row
            # (PostgreSQL) and then fails on the primary key, instead of acting twice.
            conn.execute(
                stripe_events.insert().values(
                    id=event_id,
                    type=kind,
                    stripe_created=created,
                    received_at=when,
                    outcome="handling",
                )
            )
            outcome = _run(handler, conn, obj, created, when) if handler else "ignored: type"
            conn.execute(
                stripe_events.update()
                .where(stripe_events.c.id == event_id)
                .values(outcome=outcome[:200])
            )
    except IntegrityError:
        with db.read_only_connection(engine) as conn:
            if _seen(conn, event_id):
                return EventOutcome(event_id, kind, "already handled", duplicate=True)
        raise
    # DEBUG: the webhook route logs each delivery at INFO (one line per event).
    log.debug("Stripe event %s (%s): %s", event_id, kind, outcome)
    return EventOutcome(event_id, kind, outcome)


def _run(
    handler: Handler, conn: Connection, obj: Mapping[str, Any], created: int, when: datetime
) -> str:
    # A nested transaction, so an event naming something that is not there (a workspace since
    # removed, a malformed field) is recorded as ignored instead of being retried for days.
    try:
        with conn.begin_nested():
            return handler(conn, obj, created, when)
    except (NotFound, InvalidInput) as error:
        return f"ignored: {error}"
