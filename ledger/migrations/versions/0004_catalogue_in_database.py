"""Prices and switches belong to the database: who added each price version, and the model and
feature switches as an append-only table (the latest row per kind and key is the current state).

Additive: an existing database upgrades in place; its price versions keep NULL as their author
(the catalogue file). ``catalogue_switches`` refuses UPDATE and DELETE by trigger, as the journal
does: a change is a new row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_FK_PRICE_AUTHOR = "fk_price_versions_created_by_user_id_users"

SQLITE_TRIGGERS = [
    """CREATE TRIGGER catalogue_switches_no_update BEFORE UPDATE ON catalogue_switches
    BEGIN SELECT RAISE(ABORT, 'catalogue switches are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER catalogue_switches_no_delete BEFORE DELETE ON catalogue_switches
    BEGIN SELECT RAISE(ABORT, 'catalogue switches are append-only: DELETE refused'); END""",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION catalogue_switches_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'catalogue switches are append-only: % refused', TG_OP;
    END $$""",
    """CREATE TRIGGER catalogue_switches_no_update_delete
    BEFORE UPDATE OR DELETE ON catalogue_switches
    FOR EACH ROW EXECUTE FUNCTION catalogue_switches_refuse_change()""",
    """CREATE TRIGGER catalogue_switches_no_truncate BEFORE TRUNCATE ON catalogue_switches
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_switches_refuse_change()""",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        # SQLite adds a column with its foreign key in place; Alembic would rebuild the table
        # (batch mode), and dropping the old price_versions would cascade to image_prices.
        op.execute(
            "ALTER TABLE price_versions ADD COLUMN created_by_user_id INTEGER "
            f"CONSTRAINT {_FK_PRICE_AUTHOR} REFERENCES users (id)"
        )
    else:
        op.add_column(
            "price_versions",
            sa.Column(
                "created_by_user_id",
                sa.Integer(),
                sa.ForeignKey("users.id", name=_FK_PRICE_AUTHOR),
                nullable=True,
            ),
        )
    op.add_column("price_versions", sa.Column("reason", sa.Text(), nullable=True))

    op.create_table(
        "catalogue_switches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('model', 'feature')", name=op.f("ck_catalogue_switches_kind")),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_catalogue_switches_actor_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_switches")),
    )
    op.create_index(
        op.f("ix_catalogue_switches_kind_key_id"),
        "catalogue_switches",
        ["kind", "key", "id"],
        unique=False,
    )
    for statement in SQLITE_TRIGGERS if _sqlite() else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if _sqlite():
        op.execute("DROP TRIGGER catalogue_switches_no_update")
        op.execute("DROP TRIGGER catalogue_switches_no_delete")
    op.drop_index(op.f("ix_catalogue_switches_kind_key_id"), table_name="catalogue_switches")
    op.drop_table("catalogue_switches")
    if not _sqlite():
        op.execute("DROP FUNCTION catalogue_switches_refuse_change()")
        op.drop_constraint(_FK_PRICE_AUTHOR, "price_versions", type_="foreignkey")
    # SQLite drops a column together with its own REFERENCES clause.
    op.execute("ALTER TABLE price_versions DROP COLUMN reason")
    op.execute("ALTER TABLE price_versions DROP COLUMN created_by_user_id")
