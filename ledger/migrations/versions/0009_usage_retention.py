"""Retention of usage rows: their daily totals outlive them, and the purge has an audit target.

- ``purged_usage_daily``: per UTC day and the dashboards' key (workspace, user, model, feature,
  provider, status), the sums of the usage rows the retention purge removed; ``generation`` (with
  its index) says which purge batch last added to a row.
- ``usage_purge_state``: one row, the number of purge batches that removed usage rows and the
  newest cut-off applied.
- ``audit_events.target_kind`` may be ``retention`` (the purge's event). SQLite cannot change a
  CHECK in place: the table is rebuilt (its rows copied in order) and its append-only triggers
  made again; dropping the old table drops its triggers first, so none fires.

Additive: an existing database upgrades in place. The downgrade refuses once a purge has left
totals or an audit event (the older code would lose the one and cannot describe the other).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BEFORE = ("workspace", "user", "membership", "grant", "hold", "model", "feature")
_AFTER = (*_BEFORE, "retention")
_MEASURES = (
    "requests",
    "credits",
    "usd_cost_nanos",
    "usd_cost_unknown",
    "credits_costed",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "images",
    "latency_ms_sum",
    "latency_count",
)

# As revision 0006 made them.
_SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END""",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _target_kinds(kinds: tuple[str, ...]) -> None:
    """Make ``audit_events.target_kind`` accept exactly ``kinds``."""
    name = op.f("ck_audit_events_target_kind")
    condition = "target_kind IN (" + ", ".join(repr(k) for k in kinds) + ")"
    if not _sqlite():
        op.drop_constraint(name, "audit_events", type_="check")
        op.create_check_constraint(name, "audit_events", condition)
        return
    with op.batch_alter_table("audit_events", recreate="always") as batch:
        batch.drop_constraint(name, type_="check")
        batch.create_check_constraint(name, condition)
    for statement in _SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "purged_usage_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("feature_key", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _MEASURES),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_purged_usage_daily_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_purged_usage_daily_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint(
            "day",
            "workspace_id",
            "user_id",
            "model",
            "feature_key",
            "provider",
            "status",
            name=op.f("pk_purged_usage_daily"),
        ),
    )
    op.create_index(op.f("ix_purged_usage_daily_generation"), "purged_usage_daily", ["generation"])
    state = op.create_table(
        "usage_purge_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("purged_before", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_usage_purge_state_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_purge_state")),
    )
    op.bulk_insert(state, [{"id": 1, "generation": 0}])
    _target_kinds(_AFTER)


def downgrade() -> None:
    conn = op.get_bind()
    events = conn.execute(
        sa.text("SELECT count(*) FROM audit_events WHERE target_kind = 'retention'")
    ).scalar_one()
    totals = conn.execute(sa.text("SELECT count(*) FROM purged_usage_daily")).scalar_one()
    if events or totals:
        raise RuntimeError(
            f"cannot go below revision 0009: {events} retention audit events and {totals} rows "
            "of purged usage totals would be lost or undescribable"
        )
    _target_kinds(_BEFORE)
    op.drop_table("usage_purge_state")
    op.drop_index(op.f("ix_purged_usage_daily_generation"), table_name="purged_usage_daily")
    op.drop_table("purged_usage_daily")
