"""Chat: conversations deleted with an undo, replies' tokens and time, files attached to messages.

- ``conversations.deleted_at``: a delete only sets it, so it can be undone; the purge removes the
  row minutes later. The list's index becomes ``(user_id, workspace_id, updated_at, id)`` over
  the rows not deleted (partial), and a small partial index on ``deleted_at`` serves the purge.
- ``messages.input_tokens``, ``output_tokens``, ``duration_ms``: NULL on existing rows.
- ``message_attachments``: new, cascading from ``messages``.

Additive: an existing database upgrades in place. Downgrade drops the attachments (the messages
stay), the new columns and indexes, and first deletes for good the conversations waiting in the
bin (with their messages): the older code has no bin and would show them again.

Revision ID: a005
Revises: a004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a005"
down_revision = "a004"
branch_labels = None
depends_on = None

NOT_DELETED = "deleted_at IS NULL"
DELETED = "deleted_at IS NOT NULL"


def upgrade() -> None:
    op.add_column("conversations", sa.Column("deleted_at", sa.DateTime(timezone=True)))
    op.drop_index(op.f("ix_conversations_user_id_updated_at"), table_name="conversations")
    op.create_index(
        "ix_conversations_listed",
        "conversations",
        ["user_id", "workspace_id", "updated_at", "id"],
        unique=False,
        sqlite_where=sa.text(NOT_DELETED),
        postgresql_where=sa.text(NOT_DELETED),
    )
    op.create_index(
        "ix_conversations_deleted_at",
        "conversations",
        ["deleted_at"],
        unique=False,
        sqlite_where=sa.text(DELETED),
        postgresql_where=sa.text(DELETED),
    )
    for column in ("input_tokens", "output_tokens", "duration_ms"):
        op.add_column("messages", sa.Column(column, sa.Integer(), nullable=True))
    op.create_table(
        "message_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("kind IN ('image', 'text')", name=op.f("ck_message_attachments_kind")),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_message_attachments_size_nonnegative")),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_attachments_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_attachments")),
    )
    op.create_index(
        op.f("ix_message_attachments_message_id_position"),
        "message_attachments",
        ["message_id", "position"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_message_attachments_message_id_position"), table_name="message_attachments"
    )
    op.drop_table("message_attachments")
    # Deleted for good, not brought back. Children first, whether or not the connection enforces
    # the cascade.
    op.execute(
        "DELETE FROM messages WHERE conversation_id IN "
        f"(SELECT id FROM conversations WHERE {DELETED})"
    )
    op.execute(f"DELETE FROM conversations WHERE {DELETED}")
    # SQLite (3.35+) drops a column in place once no index names it; rebuilding the table instead
    # would, under its foreign keys, cascade the drop of ``conversations`` to every message.
    op.drop_index(
        "ix_conversations_deleted_at",
        table_name="conversations",
        sqlite_where=sa.text(DELETED),
        postgresql_where=sa.text(DELETED),
    )
    op.drop_index(
        "ix_conversations_listed",
        table_name="conversations",
        sqlite_where=sa.text(NOT_DELETED),
        postgresql_where=sa.text(NOT_DELETED),
    )
    op.create_index(
        op.f("ix_conversations_user_id_updated_at"),
        "conversations",
        ["user_id", "updated_at"],
        unique=False,
    )
    op.drop_column("conversations", "deleted_at")
    for column in ("duration_ms", "output_tokens", "input_tokens"):
        op.drop_column("messages", column)
