"""Alembic environment: runs on the connection ``ledger.db.migrate`` hands over, inside its
write transaction (so all pending migrations commit together or not at all)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from ledger.schema import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ledger.db.migrate (or `workbench ledger migrate`)")


def _ledger_only(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Only the ledger's own tables: the app keeps its tables (and their Alembic history) in the
    same database, and autogenerate must not propose dropping them."""
    if type_ == "table":
        return name in metadata.tables
    table = getattr(obj, "table", None)
    return table is None or table.name in metadata.tables


context.configure(
    connection=connection,
    target_metadata=metadata,
    include_object=_ledger_only,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
