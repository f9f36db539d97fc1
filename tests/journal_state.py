"""Snapshot of everything money-related, to assert that a refused call changed nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ledger.schema import accounts, entries, grants, holds, idempotency_keys
from ledger.service import Ledger


def money_state(book: Ledger) -> dict[str, Any]:
    with book.engine.connect() as conn:
        return {
            "entries": conn.execute(sa.select(sa.func.count()).select_from(entries)).scalar_one(),
            "holds": conn.execute(sa.select(holds).order_by(holds.c.id)).all(),
            "grants": conn.execute(sa.select(grants).order_by(grants.c.id)).all(),
            "accounts": conn.execute(sa.select(accounts).order_by(accounts.c.id)).all(),
            "keys": conn.execute(
                sa.select(sa.func.count()).select_from(idempotency_keys)
            ).scalar_one(),
        }
