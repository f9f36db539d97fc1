"""Payments from outside: a grant names the payment it came from, at most one grant per payment,
and an account can owe credits.

- ``grants.reference`` and ``entries.reference``: the outside object a grant or a line is for
  (``stripe:cs_…``, ``stripe:in_…``, ``stripe:ch_…``); unique among grants, so one payment is
  credited at most once whatever reports it.
- ``accounts.debt`` and ``entries.debt_delta``: credits owed. A refund or a lost dispute takes back
  the credits a payment bought; what was already spent cannot be taken from any grant, so it
  becomes debt (the account's net balance goes below zero) and the next credits in repay it
  first. ``balance - held >= 0`` still holds: only debt can make an account negative.
  The journal trigger keeps ``debt`` as it keeps ``balance`` (Σ debt deltas = debt).

Additive: an existing database upgrades in place; nothing owes anything.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_SQLITE_APPLY = """CREATE TRIGGER entries_apply AFTER INSERT ON entries
    BEGIN
        UPDATE accounts
        SET balance = balance + NEW.balance_delta, held = held + NEW.held_delta,
            debt = debt + NEW.debt_delta
        WHERE id = NEW.account_id;
    END"""

_SQLITE_APPLY_BEFORE = """CREATE TRIGGER entries_apply AFTER INSERT ON entries
    BEGIN
        UPDATE accounts
        SET balance = balance + NEW.balance_delta, held = held + NEW.held_delta
        WHERE id = NEW.account_id;
    END"""

_POSTGRES_APPLY = """CREATE OR REPLACE FUNCTION entries_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE accounts
        SET balance = balance + NEW.balance_delta, held = held + NEW.held_delta,
            debt = debt + NEW.debt_delta
        WHERE id = NEW.account_id;
        RETURN NULL;
    END $$"""

_POSTGRES_APPLY_BEFORE = """CREATE OR REPLACE FUNCTION entries_apply() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE accounts
        SET balance = balance + NEW.balance_delta, held = held + NEW.held_delta
        WHERE id = NEW.account_id;
        RETURN NULL;
    END $$"""


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        # SQLite adds a column with its CHECK in place (batch mode would rebuild the tables, and
        # the journal refuses the DELETE a rebuild implies). A downgrade there leaves the column.
        columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("accounts")}
        if "debt" not in columns:
            op.execute(
                "ALTER TABLE accounts ADD COLUMN debt BIGINT DEFAULT '0' NOT NULL "
                "CONSTRAINT ck_accounts_debt_nonnegative CHECK (debt >= 0)"
            )
    else:
        op.add_column(
            "accounts", sa.Column("debt", sa.BigInteger(), server_default="0", nullable=False)
        )
        op.create_check_constraint(op.f("ck_accounts_debt_nonnegative"), "accounts", "debt >= 0")
    op.add_column(
        "entries", sa.Column("debt_delta", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column("entries", sa.Column("reference", sa.String(length=255), nullable=True))
    op.add_column("grants", sa.Column("reference", sa.String(length=255), nullable=True))
    op.create_index(op.f("ix_grants_reference"), "grants", ["reference"], unique=True)
    if _sqlite():
        op.execute("DROP TRIGGER entries_apply")
        op.execute(_SQLITE_APPLY)
    else:
        op.execute(_POSTGRES_APPLY)


def downgrade() -> None:
    if _sqlite():
        op.execute("DROP TRIGGER entries_apply")
        op.execute(_SQLITE_APPLY_BEFORE)
    else:
        op.execute(_POSTGRES_APPLY_BEFORE)
    op.drop_index(op.f("ix_grants_reference"), table_name="grants")
    # SQLite (3.35+) drops a column in place unless an index or constraint names it.
    op.drop_column("grants", "reference")
    op.drop_column("entries", "reference")
    op.drop_column("entries", "debt_delta")
    # On SQLite the CHECK names ``accounts.debt``, so it cannot be dropped in place: it stays
    # (every debt is 0 again only if nobody owes; the old code ignores it) rather than rebuild
    # ``accounts`` under the journal's foreign keys. Upgrading again reuses it.
    if not _sqlite():
        op.drop_constraint(op.f("ck_accounts_debt_nonnegative"), "accounts", type_="check")
        op.drop_column("accounts", "debt")
