"""The app's own tables (not money): local sign-in (passwords, its throttle and its web sessions),
and chat conversations with their messages.

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
LEDGER_TABLES = ("users", "workspaces")
for _name in LEDGER_TABLES:
    ledger_metadata.tables[_name].to_metadata(metadata)
APP_TABLES = (
    "local_logins",
    "conversations",
    "messages",
    "sign_in_failures",
    "sign_in_locks",
    "web_sessions",
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
    # The sidebar list: one user's conversations, most recent first.
    sa.Index(None, "user_id", "updated_at"),
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
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("role IN ('user', 'assistant')", name="role"),
    sa.Index(None, "conversation_id", "id"),
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

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "workbench_alembic_version"


def migrate(engine: Engine) -> None:
    """Bring the app's tables to head (after the ledger's: they reference its tables)."""
    db.migrate(engine, location=MIGRATIONS)
