"""A grant's remainder moves only through the journal, as an account's balance already does.

An AFTER INSERT trigger on ``entries`` adds each line's balance delta to the grant it names, so a
grant is funded by its own ``grant``/``adjustment`` line (it is inserted with nothing remaining)
and drawn down by its ``capture``, ``adjustment`` and ``expire`` lines: no code updates
``grants.remaining`` directly, and a capture is one statement shorter. ``remaining >= 0`` (a
check constraint) still refuses to overdraw a grant, now inside the INSERT of the line.

No data changes: every remainder already equals the sum of its grant's journal lines (``verify``
checks it per grant from this revision on).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_TRIGGER = """CREATE TRIGGER entries_apply_to_grant AFTER INSERT ON entries
    WHEN NEW.grant_id IS NOT NULL
    BEGIN
        UPDATE grants SET remaining = remaining + NEW.balance_delta WHERE id = NEW.grant_id;
    END"""

# PostgreSQL fires an event's row triggers in name order: the account first (``entries_apply``),
# then the grant, the order every write path locks them in.
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION entries_apply_to_grant() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE grants SET remaining = remaining + NEW.balance_delta WHERE id = NEW.grant_id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER entries_apply_to_grant AFTER INSERT ON entries
    FOR EACH ROW WHEN (NEW.grant_id IS NOT NULL) EXECUTE FUNCTION entries_apply_to_grant()""",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    for statement in [SQLITE_TRIGGER] if _sqlite() else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    # The code of revision 0004 updates remainders itself: the trigger must go with it.
    if _sqlite():
        op.execute("DROP TRIGGER entries_apply_to_grant")
    else:
        op.execute("DROP TRIGGER entries_apply_to_grant ON entries")
        op.execute("DROP FUNCTION entries_apply_to_grant()")
