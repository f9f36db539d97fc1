"""Billing (Stripe): the catalogue of offers, the events acted on, payments and what refunds
took back, subscriptions, customers, and auto top-up settings and attempts.

New tables only, so downgrade drops them (the ledger's grants and journal lines they point to
stay: the credits are the ledger's).

Revision ID: a004
Revises: a003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a004"
down_revision = "a003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("micros", sa.BigInteger(), nullable=False),
        sa.Column("price_usd", sa.String(length=16), nullable=False),
        sa.Column("stripe_price", sa.String(length=255), nullable=True),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('pack', 'plan')", name=op.f("ck_offers_kind")),
        sa.CheckConstraint("micros > 0", name=op.f("ck_offers_micros_positive")),
        sa.PrimaryKeyConstraint("kind", "id", name=op.f("pk_offers")),
    )
    op.create_index(op.f("ix_offers_stripe_price"), "offers", ["stripe_price"], unique=True)
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("stripe_created", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
    )
    op.create_index(
        op.f("ix_stripe_events_received_at"), "stripe_events", ["received_at"], unique=False
    )
    op.create_table(
        "auto_top_up_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payment_intent", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_auto_top_up_runs_status")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_auto_top_up_runs_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auto_top_up_runs")),
    )
    op.create_index(
        op.f("ix_auto_top_up_runs_workspace_id_created_at"),
        "auto_top_up_runs",
        ["workspace_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ux_auto_top_up_runs_one_pending",
        "auto_top_up_runs",
        ["workspace_id"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "auto_top_ups",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("threshold_micros", sa.BigInteger(), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("monthly_limit", sa.Integer(), nullable=False),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "monthly_limit >= 1 AND monthly_limit <= 100",
            name=op.f("ck_auto_top_ups_monthly_limit"),
        ),
        sa.CheckConstraint("threshold_micros > 0", name=op.f("ck_auto_top_ups_threshold_positive")),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["users.id"],
            name=op.f("fk_auto_top_ups_updated_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_auto_top_ups_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_auto_top_ups")),
    )
    op.create_table(
        "billing_customers",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_billing_customers_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_billing_customers")),
    )
    op.create_index(
        op.f("ix_billing_customers_customer_id"), "billing_customers", ["customer_id"], unique=True
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_price", sa.String(length=255), nullable=True),
        sa.Column("offer_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("state_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_subscriptions_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index(
        op.f("ix_subscriptions_workspace_id"), "subscriptions", ["workspace_id"], unique=False
    )
    op.create_table(
        "payments",
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("offer_id", sa.String(length=64), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("micros", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("payment_intent", sa.String(length=255), nullable=True),
        sa.Column("refunded_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("disputed_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("taken_back_micros", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('pack', 'plan', 'auto_top_up')", name=op.f("ck_payments_kind")
        ),
        sa.CheckConstraint(
            "taken_back_micros >= 0 AND taken_back_micros <= micros",
            name=op.f("ck_payments_taken_back"),
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_payments_grant_id_grants")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_payments_user_id_users")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_payments_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_payments")),
    )
    op.create_index(
        op.f("ix_payments_payment_intent"), "payments", ["payment_intent"], unique=False
    )
    op.create_index(
        op.f("ix_payments_workspace_id_created_at"),
        "payments",
        ["workspace_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:

    op.drop_index(op.f("ix_payments_workspace_id_created_at"), table_name="payments")
    op.drop_index(op.f("ix_payments_payment_intent"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(op.f("ix_subscriptions_workspace_id"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index(op.f("ix_billing_customers_customer_id"), table_name="billing_customers")
    op.drop_table("billing_customers")
    op.drop_table("auto_top_ups")
    op.drop_index(
        "ux_auto_top_up_runs_one_pending",
        table_name="auto_top_up_runs",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(
        op.f("ix_auto_top_up_runs_workspace_id_created_at"), table_name="auto_top_up_runs"
    )
    op.drop_table("auto_top_up_runs")
    op.drop_index(op.f("ix_stripe_events_received_at"), table_name="stripe_events")
    op.drop_table("stripe_events")
    op.drop_index(op.f("ix_offers_stripe_price"), table_name="offers")
    op.drop_table("offers")
