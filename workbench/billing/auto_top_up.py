"""Auto top-up: when a workspace's available credits fall below its admin's threshold, buy the
chosen pack off-session with the payment method saved at an earlier checkout.

At most one attempt is in flight per workspace (a partial unique index on pending runs) and at
most ``monthly_limit`` attempts that did not fail per calendar month (UTC); both are checked in
the write transaction that claims the attempt, so two app processes noticing the same low balance
start one payment. The payment is credited like any other: once, by its PaymentIntent
(``stripe:pi_…``), from the API's answer or from the ``payment_intent.succeeded`` event,
whichever comes first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger import accounts, audit, authority, db, owners
from ledger.amounts import credits_text
from ledger.errors import InvalidInput
from workbench.billing import offers, records
from workbench.billing.stripe_api import StripeApi
from workbench.billing.stripe_objects import dig, positive_id, text, whole
from workbench.db.schema import auto_top_up_runs, auto_top_ups

log = logging.getLogger("workbench.billing")

MAX_MONTHLY = 100


@dataclass(frozen=True)
class AutoTopUp:
    workspace_id: int
    enabled: bool
    threshold_micros: int
    offer_id: str
    monthly_limit: int


@dataclass(frozen=True)
class Attempt:
    run_id: int
    status: str  # "succeeded", "failed", or "pending" (waiting for Stripe's event)
    detail: str = ""


def settings_of(conn: Connection, workspace_id: int) -> AutoTopUp | None:
    query = sa.select(auto_top_ups).where(auto_top_ups.c.workspace_id == workspace_id)
    row = conn.execute(query).first()
    if row is None:
        return None
    return AutoTopUp(
        row.workspace_id, row.enabled, row.threshold_micros, row.offer_id, row.monthly_limit
    )


def save(engine: Engine, wanted: AutoTopUp, *, actor_user_id: int, now: datetime) -> None:
    """A workspace admin's (or operator's) auto top-up settings, audited."""
    if wanted.threshold_micros <= 0:
        raise InvalidInput("the threshold must be more than 0 credits")
    if not 1 <= wanted.monthly_limit <= MAX_MONTHLY:
        raise InvalidInput(f"at most 1 to {MAX_MONTHLY} top-ups a month")
    with db.write_transaction(engine) as conn:
        authority.require_manager(conn, actor_user_id, wanted.workspace_id, "set auto top-up")
        offer = offers.by_id(conn, "pack", wanted.offer_id)
        if offer is None or not offer.buyable:
            raise InvalidInput(f"{wanted.offer_id!r} is not a pack that can be bought")
        before = settings_of(conn, wanted.workspace_id)
        values = {
            "enabled": wanted.enabled,
            "threshold_micros": wanted.threshold_micros,
            "offer_id": wanted.offer_id,
            "monthly_limit": wanted.monthly_limit,
            "updated_by_user_id": actor_user_id,
            "updated_at": now,
        }
        if before is None:
            conn.execute(auto_top_ups.insert().values(workspace_id=wanted.workspace_id, **values))
        else:
            conn.execute(
                auto_top_ups.update()
                .where(auto_top_ups.c.workspace_id == wanted.workspace_id)
                .values(**values)
            )
        audit.record(
            conn,
            actor_user_id=actor_user_id,
            action="billing.auto_top_up",
            workspace_id=wanted.workspace_id,
            target_kind="workspace",
            target=wanted.workspace_id,
            before=None if before is None else _plain(before),
            after=_plain(wanted),
            now=now,
        )


def _plain(s: AutoTopUp) -> dict[str, Any]:
    return {
        "enabled": s.enabled,
        "threshold": s.threshold_micros,
        "pack": s.offer_id,
        "monthly_limit": s.monthly_limit,
    }


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def attempts_this_month(conn: Connection, workspace_id: int, now: datetime) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(auto_top_up_runs)
            .where(
                auto_top_up_runs.c.workspace_id == workspace_id,
                auto_top_up_runs.c.created_at >= _month_start(now),
                auto_top_up_runs.c.status != "failed",
            )
        ).scalar_one()
    )


def _due(conn: Connection, workspace_id: int) -> bool:
    wanted = settings_of(conn, workspace_id)
    if wanted is None or not wanted.enabled:
        return False
    account = accounts.read(conn, owners.workspace_by_id(conn, workspace_id).account_id)
    return account.available - account.debt < wanted.threshold_micros


def _claim(
    engine: Engine, workspace_id: int, now: datetime
) -> tuple[int, offers.Offer, str] | None:
    """Claim the one in-flight attempt, if one is due: (run id, pack, customer)."""
    # Most checks find nothing due: a read, so they never queue for SQLite's one writer.
    with db.read_only_connection(engine) as conn:
        if not _due(conn, workspace_id):
            return None
    with db.write_transaction(engine) as conn:
        # The account's lock first (the ledger's lock order), as crediting takes it: concurrent
        # claims of one workspace queue here (PostgreSQL; SQLite has one writer anyway), and each
        # then sees either the earlier attempt still pending or its credits already in, never
        # the low balance from before with the attempt already settled.
        account = accounts.lock(conn, owners.workspace_by_id(conn, workspace_id).account_id)
        wanted = settings_of(conn, workspace_id)
        if wanted is None or not wanted.enabled:
            return None
        if account.available - account.debt >= wanted.threshold_micros:
            return None
        pending = conn.execute(
            sa.select(auto_top_up_runs.c.id).where(
                auto_top_up_runs.c.workspace_id == workspace_id,
                auto_top_up_runs.c.status == "pending",
            )
        ).first()
        if pending is not None or attempts_this_month(conn, workspace_id, now) >= (
            wanted.monthly_limit
        ):
            return None
        offer = offers.by_id(conn, "pack", wanted.offer_id)
        customer = records.customer_of(conn, workspace_id)
        status, error = "pending", None
        if offer is None or not offer.buyable:
            status, error = "failed", f"pack {wanted.offer_id!r} can no longer be bought"
        elif customer is None:
            status, error = "failed", "no saved payment method: buy a pack once by card first"
        run_id = int(
            conn.execute(
                auto_top_up_runs.insert()
                .values(
                    workspace_id=workspace_id,
                    offer_id=wanted.offer_id,
                    status=status,
                    error=error,
                    created_at=now,
                    settled_at=None if status == "pending" else now,
                )
                .returning(auto_top_up_runs.c.id)
            ).scalar_one()
        )
        if status == "failed" or offer is None or customer is None:
            log.warning("auto top-up of workspace %s not started: %s", workspace_id, error)
            return None
        return run_id, offer, customer


def run_if_due(engine: Engine, api: StripeApi, workspace_id: int, now: datetime) -> Attempt | None:
    """Start the workspace's auto top-up if its balance is below the threshold (None when not
    due). Runs outside any page's transaction: the Stripe call is made with no lock held."""
    claimed = _claim(engine, workspace_id, now)
    if claimed is None:
        return None
    run_id, offer, customer = claimed
    metadata = {
        "workspace_id": str(workspace_id),
        "auto_top_up_run": str(run_id),
        "offer_id": offer.id,
        "micros": str(offer.micros),
    }
    try:
        intent = api.create_off_session_payment(
            customer=customer,
            amount_cents=int(Decimal(offer.price_usd) * 100),
            currency="usd",
            metadata=metadata,
            idempotency_key=f"auto-top-up-{run_id}",
        )
    except Exception as error:  # StripeFailure, or anything the SDK raised: the run must settle
        with db.write_transaction(engine) as conn:
            _settle(conn, run_id, "failed", now, str(error)[:500], None)
        log.warning("auto top-up of workspace %s failed: %s", workspace_id, error)
        return Attempt(run_id, "failed", str(error))
    if dig(intent, "status") == "succeeded":
        with db.write_transaction(engine) as conn:
            on_payment_succeeded(conn, intent, 0, now)
        return Attempt(run_id, "succeeded")
    with db.write_transaction(engine) as conn:
        _settle(conn, run_id, "pending", now, None, text(intent, "id"))
    return Attempt(run_id, "pending", str(dig(intent, "status")))


def _settle(
    conn: Connection,
    run_id: int,
    status: str,
    now: datetime,
    error: str | None,
    payment_intent: str | None,
) -> None:
    values: dict[str, Any] = {"status": status, "error": error}
    if payment_intent:
        values["payment_intent"] = payment_intent
    if status != "pending":
        values["settled_at"] = now
    conn.execute(
        auto_top_up_runs.update()
        .where(auto_top_up_runs.c.id == run_id, auto_top_up_runs.c.status == "pending")
        .values(**values)
    )


def on_payment_succeeded(
    conn: Connection, intent: Mapping[str, Any], created: int, now: datetime
) -> str:
    metadata = dig(intent, "metadata")
    run_id = positive_id(metadata, "auto_top_up_run")
    workspace_id = positive_id(metadata, "workspace_id")
    micros = positive_id(metadata, "micros")
    intent_id = text(intent, "id")
    if run_id is None or workspace_id is None or micros is None or intent_id is None:
        return "ignored: not an auto top-up of this workbench"
    credited = records.credit_purchase(
        conn,
        records.Purchase(
            reference=f"stripe:{intent_id}",
            kind="auto_top_up",
            workspace_id=workspace_id,
            offer_id=text(metadata, "offer_id"),
            micros=micros,
            amount_cents=whole(intent, "amount") or 0,
            currency=text(intent, "currency") or "usd",
            payment_intent=intent_id,
            reason=f"Stripe auto top-up {intent_id}: {credits_text(micros)}",
        ),
        now,
    )
    _settle(conn, run_id, "succeeded", now, None, intent_id)
    if not credited.created:
        return "already granted"
    return "granted"


def on_payment_failed(
    conn: Connection, intent: Mapping[str, Any], created: int, now: datetime
) -> str:
    run_id = positive_id(dig(intent, "metadata"), "auto_top_up_run")
    if run_id is None:
        return "ignored: not an auto top-up of this workbench"
    reason = text(intent, "last_payment_error", "message") or "the payment failed"
    _settle(conn, run_id, "failed", now, reason[:500], text(intent, "id"))
    return f"auto top-up failed: {reason}"[:200]
