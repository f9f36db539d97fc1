"""Micro-credits: every money column times 1,000,000, in place; price columns named for their unit.

A credit stays US$0.001; the ledger now counts in millionths of a credit so a call's price is
rounded up by less than one of them instead of to a whole credit. This multiplies every stored
amount (balances, held totals, grants, holds, journal lines, caps, prices, usage rows) and the
amounts inside stored idempotency outcomes (grant and adjustment outcomes, stored refusals), so a
replayed key answers in the new unit. Request hashes need no change: amounts enter them in
credits (``ledger.amounts.request_identity``).

The journal is append-only by trigger; the trigger that refuses UPDATE on ``entries`` is set aside
for the one multiplying statement and put back, all inside the migration's transaction. The
trigger that applies entries to accounts fires on INSERT only, so the accounts' cached sums are
multiplied by their own statement and still equal the journal's.

Downgrade divides back, and refuses (changing nothing) if any amount is not a whole credit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FACTOR = 1_000_000
# The largest amount that can still be multiplied inside a signed 64-bit integer (SQLite would
# silently turn an overflowing product into a float).
LARGEST = (2**63 - 1) // FACTOR

# Money columns by table, under their names after this revision.
MONEY: dict[str, tuple[str, ...]] = {
    "accounts": ("balance", "held"),
    "memberships": ("monthly_cap",),
    "price_versions": ("input_micros_per_mtok", "output_micros_per_mtok"),
    "image_prices": ("micros_per_image",),
    "grants": ("amount", "remaining"),
    "holds": ("amount", "captured"),
    "entries": ("balance_delta", "held_delta"),
    "usage_records": ("credits",),
}
RENAMED = [
    ("price_versions", "input_credits_per_mtok", "input_micros_per_mtok"),
    ("price_versions", "output_credits_per_mtok", "output_micros_per_mtok"),
    ("image_prices", "credits_per_image", "micros_per_image"),
]
# Amount fields of stored outcomes: successes by scope, refusals by error type.
OK_AMOUNTS = {"grant": ("amount",), "adjust": ("delta",)}
REFUSAL_AMOUNTS = {
    "InsufficientCredits": ("available", "needed"),
    "CapExceeded": ("cap", "used", "needed"),
    "CaptureExceedsHold": ("held", "requested"),
}

SQLITE_NO_UPDATE = """CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE refused'); END"""


def upgrade() -> None:
    conn = op.get_bind()
    for table, columns in MONEY.items():
        old = [_old_name(table, column) for column in columns]
        _refuse_if(conn, table, old, f"ABS({{c}}) > {LARGEST}", "is too large to convert")
    for table, old_name, new_name in RENAMED:
        _rename(table, old_name, new_name)
    for table, columns in MONEY.items():
        _scale(conn, table, columns, f"{{c}} * {FACTOR}")
    _rewrite_outcomes(conn, lambda amount: amount * FACTOR)


def downgrade() -> None:
    conn = op.get_bind()
    for table, columns in MONEY.items():
        _refuse_if(conn, table, columns, f"{{c}} % {FACTOR} <> 0", "is not a whole credit")
    _rewrite_outcomes(conn, _whole_credits)
    for table, columns in MONEY.items():
        _scale(conn, table, columns, f"{{c}} / {FACTOR}")
    for table, old_name, new_name in RENAMED:
        _rename(table, new_name, old_name)


def _old_name(table: str, column: str) -> str:
    return next((old for t, old, new in RENAMED if (t, new) == (table, column)), column)


def _refuse_if(
    conn: sa.Connection, table: str, columns: tuple[str, ...] | list[str], test: str, what: str
) -> None:
    for column in columns:
        condition = test.format(c=column)
        count = conn.execute(
            sa.text(f"SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND {condition}")
        ).scalar_one()
        if count:
            raise RuntimeError(
                f"cannot convert the ledger's amounts: {count} value(s) of {table}.{column} "
                f"{what}; nothing was changed"
            )


def _rename(table: str, old_name: str, new_name: str) -> None:
    # Plain SQL on both backends (SQLite >= 3.25): no table rebuild, and the CHECK constraint
    # that names the column follows the rename.
    op.execute(f"ALTER TABLE {table} RENAME COLUMN {old_name} TO {new_name}")


def _scale(conn: sa.Connection, table: str, columns: tuple[str, ...], expression: str) -> None:
    assignments = ", ".join(f"{column} = {expression.format(c=column)}" for column in columns)
    update = f"UPDATE {table} SET {assignments}"
    if table != "entries":
        op.execute(update)
        return
    # The journal refuses UPDATE by trigger: set it aside for this statement only.
    if conn.dialect.name == "sqlite":
        op.execute("DROP TRIGGER entries_no_update")
        op.execute(update)
        op.execute(SQLITE_NO_UPDATE)
    else:
        op.execute("ALTER TABLE entries DISABLE TRIGGER entries_no_update_delete")
        op.execute(update)
        op.execute("ALTER TABLE entries ENABLE TRIGGER entries_no_update_delete")


def _whole_credits(micros: int) -> int:
    credits, rest = divmod(micros, FACTOR)
    if rest:
        raise RuntimeError(
            "cannot convert the ledger's amounts: a stored idempotency outcome holds "
            f"{micros} micro-credits, not a whole credit; nothing was changed"
        )
    return credits


def _rewrite_outcomes(conn: sa.Connection, convert: Callable[[int], int]) -> None:
    """Convert the amounts inside stored outcomes. Hold outcomes only point at their hold, so
    only grant and adjustment outcomes and stored refusals are read."""
    rows = conn.execute(
        sa.text(
            "SELECT scope, key, outcome FROM idempotency_keys "
            "WHERE scope IN ('grant', 'adjust') OR outcome LIKE :refusal"
        ),
        {"refusal": '{"error"%'},
    ).all()
    for scope, key, outcome in rows:
        data: dict[str, Any] = json.loads(outcome)
        if "ok" in data:
            fields, names = data["ok"], OK_AMOUNTS.get(scope, ())
        else:
            fields = data["error"].get("fields", {})
            names = REFUSAL_AMOUNTS.get(data["error"].get("type"), ())
        changed = False
        for name in names:
            if isinstance(fields.get(name), int):
                fields[name] = convert(fields[name])
                changed = True
        if changed:
            conn.execute(
                sa.text(
                    "UPDATE idempotency_keys SET outcome = :outcome WHERE scope = :s AND key = :k"
                ),
                {"outcome": json.dumps(data), "s": scope, "k": key},
            )
