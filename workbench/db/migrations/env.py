"""Alembic environment for the app's tables: the connection comes from ``ledger.db.migrate``
(one write transaction, processes taking turns), the history is kept in its own version table."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from workbench.db.schema import APP_TABLES, VERSION_TABLE, metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through workbench.db.migrate.migrate_all")


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Only the app's tables: the ledger's live in the same database under their own history."""
    if type_ == "table":
        return name in APP_TABLES
    table = getattr(obj, "table", None)
    return table is None or table.name in APP_TABLES


context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    include_object=_ours,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
