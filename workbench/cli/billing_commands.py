"""``workbench billing …``: what can be bought, the Stripe events acted on, and auto top-ups."""

from __future__ import annotations

import click
import sqlalchemy as sa

from ledger import db
from ledger.amounts import format_credits
from ledger.service import Ledger
from workbench.billing.service import open_billing
from workbench.cli.common import WHOLE_NUMBER, with_ledger
from workbench.config import Settings
from workbench.db.schema import auto_top_ups, stripe_events


@click.group("billing")
def group() -> None:
    """Billing: credit packs and plans, Stripe events, auto top-up."""


@group.command("offers")
def list_offers() -> None:
    """The credit packs and plans on offer (the database's catalogue, seeded from data/)."""

    def work(book: Ledger, config: Settings) -> None:
        billing = open_billing(book, config)
        for kind in ("pack", "plan"):
            per = " a month" if kind == "plan" else ""
            for offer in billing.offers("pack" if kind == "pack" else "plan"):
                price = offer.stripe_price or "(no Stripe price: not buyable)"
                print(
                    f"{kind:5} {offer.id:20} {format_credits(offer.micros):>10} credits{per:8}"
                    f"  US${offer.price_usd:>8}  {price}"
                )
        if not billing.configured:
            print("Purchases are not configured (set STRIPE_SECRET_KEY).")

    with_ledger(work)


@group.command("events")
@click.option("--limit", type=WHOLE_NUMBER, default=20, show_default=True, help="How many.")
def list_events(limit: int) -> None:
    """The Stripe events received most recently, with what each did."""

    def work(book: Ledger, _config: Settings) -> None:
        query = sa.select(stripe_events).order_by(stripe_events.c.received_at.desc()).limit(limit)
        with db.read_only_connection(book.engine) as conn:
            rows = conn.execute(query).all()
        for row in rows:
            print(f"{row.received_at:%Y-%m-%d %H:%M:%S} {row.id}  {row.type:40} {row.outcome}")
        if not rows:
            print("No Stripe event received yet.")

    with_ledger(work)


@group.command("top-up-due")
def top_up_due() -> None:
    """Start every auto top-up that is due now (for a scheduler; the app also starts them
    after each charge)."""

    def work(book: Ledger, config: Settings) -> None:
        billing = open_billing(book, config)
        if not billing.configured:
            print("Purchases are not configured (set STRIPE_SECRET_KEY): nothing to do.")
            return
        with db.read_only_connection(book.engine) as conn:
            enabled = conn.execute(
                sa.select(auto_top_ups.c.workspace_id).where(auto_top_ups.c.enabled.is_(True))
            ).scalars()
            workspaces = list(enabled)
        started = 0
        for workspace_id in workspaces:
            attempt = billing.top_up_if_due(workspace_id)
            if attempt is not None:
                started += 1
                detail = f": {attempt.detail}" if attempt.detail else ""
                print(f"workspace {workspace_id}: auto top-up {attempt.status}{detail}")
        print(f"{started} auto top-up(s) started of {len(workspaces)} enabled.")

    with_ledger(work)
