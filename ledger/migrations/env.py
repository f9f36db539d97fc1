"""Alembic environment: runs on the connection ``ledger.db.migrate`` hands over, inside its
write transaction (so all pending migrations commit together or not at all)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ledger.schema import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ledger.db.migrate (or `ledgerctl migrate`)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
