"""One migration path for the whole database: the ledger's Alembic tree, then the app's.

Both trees live in one database with their own version tables (``alembic_version`` for the
ledger, ``workbench_alembic_version`` for the app), and the app's tables reference the ledger's
``users`` and ``workspaces``, so the order is fixed: ledger first. Every entry point (the app's
start-up, the command line, the tests' harnesses) calls :func:`migrate_all`, through
``workbench.db.ledger_access.open_ledger``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from ledger import db
from workbench.db import schema


@dataclass(frozen=True)
class Revisions:
    """Where each Alembic tree of a database stands (None: never migrated)."""

    ledger: str | None
    app: str | None

    def __str__(self) -> str:
        return f"ledger {self.ledger or 'none'}, app {self.app or 'none'}"


def migrate_all(engine: Engine) -> Revisions:
    """Bring both trees to head, ledger first; returns the revisions they are at afterwards."""
    db.migrate(engine)
    schema.migrate(engine)
    return revisions(engine)


def revisions(engine: Engine) -> Revisions:
    return Revisions(
        ledger=db.current_revision(engine),
        app=db.current_revision(engine, version_table=schema.VERSION_TABLE),
    )
