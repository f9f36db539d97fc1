"""The app's own tables (not money): local sign-in (passwords, its throttle and its web sessions),
chat conversations with their messages and the files attached to them, and billing's record of
Stripe (offers, events, payments, subscriptions, customers, auto top-up). The credits themselves
are the ledger's.

They live in the ledger's database, beside its tables, with their own Alembic history
(``workbench/db/migrations``, version table ``workbench_alembic_version``) so the ledger stays a
library that knows nothing of the app. They reference the ledger's ``users`` and ``workspaces``.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger import db
from ledger.schema import UTCDateTime
from ledger.schema import metadata as ledger_metadata

metadata = sa.MetaData(naming_convention=ledger_metadata.naming_convention)
# The ledger's tables these reference, copied in so foreign keys resolve (not created here).
LEDGER_TABLES = ("users", "workspaces", "accounts", "grants")
for _name in LEDGER_TABLES:
    ledger_metadata.tables[_name].to_metadata(metadata)
APP_TABLES = (
    "local_logins",
    "conversations",
    "messages",
    "message_attachments",
    "sign_in_failures",
    "sign_in_locks",
    "web_sessions",
    "offers",
    "stripe_events",
    "billing_customers",
    "payments",
    "subscriptions",
    "auto_top_ups",
    "auto_top_up_runs",
)

local_logins = sa.Table(
    "local_logins",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    # "scrypt$n$r$p$salt$hash": a standard slow KDF (hashlib.scrypt), parameters kept per row.
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("system_prompt", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Set by a delete, so it can be undone; ``Conversations.purge_deleted`` removes the row (and,
    # by the cascades, its messages and their attachments) some minutes later.
    sa.Column("deleted_at", UTCDateTime, nullable=True),
    # The list: one user's conversations in one workspace, newest first, a page at a time. Partial,
    # so deleted rows waiting for their purge are not in it; ``id`` breaks ties in the order.
    sa.Index(
        "ix_conversations_listed",
        "user_id",
        "workspace_id",
        "updated_at",
        "id",
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    ),
    # The purge's look-up: only the few deleted rows are in it.
    sa.Index(
        "ix_conversations_deleted_at",
        "deleted_at",
        sqlite_where=sa.text("deleted_at IS NOT NULL"),
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    ),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "conversation_id",
        sa.Integer,
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("model", sa.String(200), nullable=True),
    # The hold that paid for an assistant message (the usage row says what it cost).
    sa.Column("hold_id", sa.Integer, nullable=True),
    sa.Column("status", sa.String(16), nullable=True),
    # What the reply cost, in micro-credits (1 credit = 1,000,000; see ledger.amounts).
    sa.Column("credits", sa.BigInteger, nullable=True),
    # A reply's tokens in and out and its time from Enter to the last word (NULL on the person's
    # messages and on replies saved before they were kept).
    sa.Column("input_tokens", sa.Integer, nullable=True),
    sa.Column("output_tokens", sa.Integer, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("role IN ('user', 'assistant')", name="role"),
    sa.Index(None, "conversation_id", "id"),
)

# The files attached to a message (workbench.chat.attachments), in the order they were attached:
# a picture keeps its bytes, a text file the text read out of it. Written in the message's
# transaction; gone with it (cascade).
message_attachments = sa.Table(
    "message_attachments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "message_id",
        sa.Integer,
        sa.ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("position", sa.Integer, nullable=False),
    # The person's file name: untrusted text.
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("data", sa.LargeBinary, nullable=True),
    sa.CheckConstraint("kind IN ('image', 'text')", name="kind"),
    sa.CheckConstraint("size_bytes >= 0", name="size_nonnegative"),
    # A message's attachments in order (and the cascade's look-up).
    sa.Index(None, "message_id", "position", unique=True),
)

# Local sign-in's throttle (workbench.auth.throttle). A row is written as an attempt starts, before
# the password is checked, so parallel guesses count at once; it is deleted if the password was
# right. Rows older than the window plus the lock are pruned as attempts come in.
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # The name as typed (stripped); a name no user could have is kept as a hash of it, "~…".
    sa.Column("username", sa.String(64), nullable=False),
    # The client address (an IPv6 address as its /64); NULL when the server could not tell.
    sa.Column("address", sa.String(64), nullable=True),
    sa.Column("attempted_at", UTCDateTime, nullable=False),
    # Set when the same name then signed in: no longer counted for the name, still for the address.
    sa.Column("forgiven", sa.Boolean, nullable=False),
    sa.Index(None, "username", "attempted_at"),
    sa.Index(None, "address", "attempted_at"),
    sa.Index(None, "attempted_at"),
)

sign_in_locks = sa.Table(
    "sign_in_locks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("scope", sa.String(16), nullable=False),
    # The username or address, as ``sign_in_failures`` holds it.
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("locked_at", UTCDateTime, nullable=False),
    sa.Column("locked_until", UTCDateTime, nullable=False),
    sa.CheckConstraint("scope IN ('username', 'address')", name="scope"),
    sa.Index(None, "scope", "key", "locked_until"),
    sa.Index(None, "locked_until"),
)

# Local sign-in's server-side sessions (workbench.auth.web_sessions): the cookie carries a random
# token, this table only its SHA-256, so reading the table signs nobody in.
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Written at most once a minute, so a page run does not write.
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("address", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(200), nullable=True),
    sa.Index(None, "token_hash", unique=True),
    # Revoking every session of a user (sign-out everywhere, deactivation).
    sa.Index(None, "user_id"),
    # Pruning sessions past their lifetime.
    sa.Index(None, "created_at"),
)

# --- billing (workbench.billing) ---------------------------------------------------------------
# Money rows never cascade: a workspace with payments cannot silently lose their record.

# The catalogue of what can be bought (workbench.billing.offers), seeded from data/ like prices.
offers = sa.Table(
    "offers",
    metadata,
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    # Credits per purchase (pack) or per month (plan), in micro-credits.
    sa.Column("micros", sa.BigInteger, nullable=False),
    sa.Column("price_usd", sa.String(16), nullable=False),
    sa.Column("stripe_price", sa.String(255), nullable=True),
    sa.Column("note", sa.String(200), nullable=False, server_default=""),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("kind IN ('pack', 'plan')", name="kind"),
    sa.CheckConstraint("micros > 0", name="micros_positive"),
    sa.Index(None, "stripe_price", unique=True),
)

# Every Stripe event acted on, by its id: a redelivered event finds its row and does nothing.
# Written in the transaction of the event's effect.
stripe_events = sa.Table(
    "stripe_events",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    # Stripe's ``created`` (seconds): orders subscription updates.
    sa.Column("stripe_created", sa.BigInteger, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # What it did: "granted", "taken back", "subscription updated", "ignored: …".
    sa.Column("outcome", sa.String(200), nullable=False),
    sa.Index(None, "received_at"),
)

# A workspace's Stripe customer: made at its first checkout, reused for the portal and top-ups.
billing_customers = sa.Table(
    "billing_customers",
    metadata,
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), primary_key=True),
    sa.Column("customer_id", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "customer_id", unique=True),
)

# One row per payment credited (a Checkout Session, an Invoice, an off-session PaymentIntent):
# what it bought, its grant, and how much refunds and disputes have taken back so far.
payments = sa.Table(
    "payments",
    metadata,
    sa.Column("reference", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("offer_id", sa.String(64), nullable=True),
    sa.Column("grant_id", sa.Integer, sa.ForeignKey("grants.id"), nullable=False),
    sa.Column("micros", sa.BigInteger, nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    # How a refund or dispute (which name only the charge and its PaymentIntent) finds the payment.
    sa.Column("payment_intent", sa.String(255), nullable=True),
    sa.Column("refunded_cents", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("disputed_cents", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("taken_back_micros", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("kind IN ('pack', 'plan', 'auto_top_up')", name="kind"),
    sa.CheckConstraint("taken_back_micros >= 0 AND taken_back_micros <= micros", name="taken_back"),
    sa.Index(None, "payment_intent"),
    sa.Index(None, "workspace_id", "created_at"),
)

# A workspace's plan as Stripe last told it (``state_at``: the newest event applied).
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("customer_id", sa.String(255), nullable=True),
    sa.Column("stripe_price", sa.String(255), nullable=True),
    sa.Column("offer_id", sa.String(64), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("current_period_end", UTCDateTime, nullable=True),
    sa.Column("cancel_at_period_end", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("state_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "workspace_id"),
)

# A workspace admin's auto top-up: below the threshold, buy the pack off-session.
auto_top_ups = sa.Table(
    "auto_top_ups",
    metadata,
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), primary_key=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("threshold_micros", sa.BigInteger, nullable=False),
    sa.Column("offer_id", sa.String(64), nullable=False),
    sa.Column("monthly_limit", sa.Integer, nullable=False),
    sa.Column("updated_by_user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("threshold_micros > 0", name="threshold_positive"),
    sa.CheckConstraint("monthly_limit >= 1 AND monthly_limit <= 100", name="monthly_limit"),
)

# Each auto top-up attempt; at most one pending per workspace (the partial unique index).
auto_top_up_runs = sa.Table(
    "auto_top_up_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("offer_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payment_intent", sa.String(255), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("settled_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    sa.Index(
        "ux_auto_top_up_runs_one_pending",
        "workspace_id",
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
    sa.Index(None, "workspace_id", "created_at"),
)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "workbench_alembic_version"


def migrate(engine: Engine) -> None:
    """Bring the app's tables to head (after the ledger's: they reference its tables)."""
    db.migrate(engine, location=MIGRATIONS)
