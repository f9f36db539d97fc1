"""The Images gallery's look-up: a workspace's (or a person's) image calls, newest first.

Two partial indexes on ``usage_records`` holding only calls that kept images (``images > 0``
with a hold), in id order: the gallery's keyset query (``Ledger.image_calls``) seeks straight to
its page instead of sorting every usage row of the workspace, chat turns included. Additive.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_IMAGE_CALLS = "images > 0 AND hold_id IS NOT NULL"


def upgrade() -> None:
    for column in ("workspace_id", "user_id"):
        op.create_index(
            f"ix_usage_records_image_calls_{column}",
            "usage_records",
            [column, "id"],
            sqlite_where=sa.text(_IMAGE_CALLS),
            postgresql_where=sa.text(_IMAGE_CALLS),
        )


def downgrade() -> None:
    for column in ("workspace_id", "user_id"):
        op.drop_index(f"ix_usage_records_image_calls_{column}", table_name="usage_records")
