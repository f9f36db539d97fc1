"""A message's ``credits`` in micro-credits, like the ledger's amounts since its revision 0003.

Assistant messages keep what their reply cost; that number is multiplied by 1,000,000 in place.
Downgrade divides back and refuses (changing nothing) if any cost is not a whole credit.

Revision ID: a002
Revises: a001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a002"
down_revision = "a001"
branch_labels = None
depends_on = None

FACTOR = 1_000_000
LARGEST = (2**63 - 1) // FACTOR


def upgrade() -> None:
    _refuse_if(f"ABS(credits) > {LARGEST}", "is too large to convert")
    op.execute(f"UPDATE messages SET credits = credits * {FACTOR} WHERE credits IS NOT NULL")


def downgrade() -> None:
    _refuse_if(f"credits % {FACTOR} <> 0", "is not a whole credit")
    op.execute(f"UPDATE messages SET credits = credits / {FACTOR} WHERE credits IS NOT NULL")


def _refuse_if(condition: str, what: str) -> None:
    count = (
        op.get_bind()
        .execute(
            sa.text(f"SELECT COUNT(*) FROM messages WHERE credits IS NOT NULL AND {condition}")
        )
        .scalar_one()
    )
    if count:
        raise RuntimeError(
            f"cannot convert messages.credits: {count} value(s) {what}; nothing was changed"
        )
