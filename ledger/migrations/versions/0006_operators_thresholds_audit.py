"""Who may do what, and a record of what they did: the operator flag on users, a low-balance
threshold per workspace, and the append-only ``audit_events`` table.

Additive: an existing database upgrades in place (nobody is an operator until made one, no
workspace has a threshold). ``audit_events`` refuses UPDATE and DELETE by trigger, as the journal
does.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END""",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP;
    END $$""",
    """CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()""",
    """CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()""",
]

_TARGETS = ("workspace", "user", "membership", "grant", "hold", "model", "feature")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("is_operator", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    if _sqlite():
        # SQLite adds a column with its CHECK in place; Alembic's batch mode would rebuild the
        # table, and dropping the old workspaces would cascade to memberships.
        op.execute(
            "ALTER TABLE workspaces ADD COLUMN low_balance_threshold BIGINT "
            "CONSTRAINT ck_workspaces_threshold_nonnegative "
            "CHECK (low_balance_threshold IS NULL OR low_balance_threshold >= 0)"
        )
    else:
        op.add_column(
            "workspaces", sa.Column("low_balance_threshold", sa.BigInteger(), nullable=True)
        )
        op.create_check_constraint(
            op.f("ck_workspaces_threshold_nonnegative"),
            "workspaces",
            "low_balance_threshold IS NULL OR low_balance_threshold >= 0",
        )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=True),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "target_kind IN (" + ", ".join(repr(t) for t in _TARGETS) + ")",
            name=op.f("ck_audit_events_target_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name=op.f("fk_audit_events_actor_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_audit_events_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_workspace_id_id"), "audit_events", ["workspace_id", "id"])
    op.create_index(op.f("ix_audit_events_created_at"), "audit_events", ["created_at"])
    for statement in SQLITE_TRIGGERS if _sqlite() else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if _sqlite():
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
    op.drop_index(op.f("ix_audit_events_created_at"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_workspace_id_id"), table_name="audit_events")
    op.drop_table("audit_events")
    if not _sqlite():
        op.execute("DROP FUNCTION audit_events_refuse_change()")
        op.drop_constraint(op.f("ck_workspaces_threshold_nonnegative"), "workspaces", type_="check")
    # SQLite drops a column together with its own CHECK clause.
    op.execute("ALTER TABLE workspaces DROP COLUMN low_balance_threshold")
    op.execute("ALTER TABLE users DROP COLUMN is_operator")
