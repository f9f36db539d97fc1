"""Alembic environment for the app's tables: the connection comes from ``ledger.db.migrate``
(one write transaction, processes taking turns), the history is kept in its own version table."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from workbench.db.schema import APP_TABLES, metadata

VERSION_TABLE = "workbench_alembic_version"

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through workbench.app_store.migrate")


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return type_ != "table" or name in APP_TABLES


context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    include_object=_ours,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
