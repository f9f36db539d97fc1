"""Local sign-in's throttle (failures and locks) and its server-side web sessions.

New tables only, so downgrade drops them: the throttle's state and every session go (everyone
signed in locally signs in again), nothing else changes.

Revision ID: a003
Revises: a002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a003"
down_revision = "a002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forgiven", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(
        op.f("ix_sign_in_failures_username_attempted_at"),
        "sign_in_failures",
        ["username", "attempted_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sign_in_failures_address_attempted_at"),
        "sign_in_failures",
        ["address", "attempted_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sign_in_failures_attempted_at"), "sign_in_failures", ["attempted_at"], unique=False
    )
    op.create_table(
        "sign_in_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("scope IN ('username', 'address')", name=op.f("ck_sign_in_locks_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_locks")),
    )
    op.create_index(
        op.f("ix_sign_in_locks_scope_key_locked_until"),
        "sign_in_locks",
        ["scope", "key", "locked_until"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sign_in_locks_locked_until"), "sign_in_locks", ["locked_until"], unique=False
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_token_hash"), "web_sessions", ["token_hash"], unique=True)
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"], unique=False)
    op.create_index(
        op.f("ix_web_sessions_created_at"), "web_sessions", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_created_at"), table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_token_hash"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index(op.f("ix_sign_in_locks_locked_until"), table_name="sign_in_locks")
    op.drop_index(op.f("ix_sign_in_locks_scope_key_locked_until"), table_name="sign_in_locks")
    op.drop_table("sign_in_locks")
    op.drop_index(op.f("ix_sign_in_failures_attempted_at"), table_name="sign_in_failures")
    op.drop_index(op.f("ix_sign_in_failures_address_attempted_at"), table_name="sign_in_failures")
    op.drop_index(op.f("ix_sign_in_failures_username_attempted_at"), table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
