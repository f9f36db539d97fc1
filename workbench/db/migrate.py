"""One migration path for the whole database: the ledger's Alembic tree, then the app's; and the
lock that lets several app processes start on one database at once.

Both trees live in one database with their own version tables (``alembic_version`` for the
ledger, ``workbench_alembic_version`` for the app), and the app's tables reference the ledger's
``users`` and ``workspaces``, so the order is fixed: ledger first. Every entry point (the app's
start-up, the command line, the tests' harnesses) calls :func:`migrate_all`, through
``workbench.db.ledger_access.open_ledger``.

Each tree's upgrade is one transaction under PostgreSQL's migration advisory lock
(``ledger.db.migrate``), so replicas starting together take turns and the later ones find the
schema at head. What start-up does after that spans several transactions (seeding the catalogue
and the offers, creating the first admin); :func:`start_up_lock` makes processes take turns
through all of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger import db
from workbench.db import schema

# Any fixed number, apart from the ledger's migration lock and the catalogue's (a session-level
# lock on this key is held while the work below takes those on other connections).
_START_UP_LOCK = 0x5745_5354  # "WEST": workbench start-up

# The databases (by URL) whose start-up lock this thread holds: a nested ``start_up_lock`` on the
# same database passes straight through instead of waiting for itself on another connection.
_held = threading.local()


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


@contextmanager
def start_up_lock(engine: Engine) -> Iterator[None]:
    """Processes starting on one database at once take turns through what this wraps.

    For start-up work of several transactions that each check, then write ("no offers yet: add
    them", "no login yet: create the first admin"): two replicas starting together would both
    see nothing and both write, and one would stop on a unique key. On PostgreSQL a session-level
    advisory lock, taken on a connection of its own in autocommit mode (no transaction stays
    open while it waits or works) and released on exit, or by the server if the process dies.
    Re-entrant within a thread. On SQLite nothing: one app process serves an SQLite file (its
    other writers, the command line, already take turns at ``BEGIN IMMEDIATE``).
    """
    url = engine.url.render_as_string(hide_password=False)
    held: set[str] = _held.__dict__.setdefault("urls", set())
    if engine.dialect.name != "postgresql" or url in held:
        yield
        return
    key = {"key": _START_UP_LOCK}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), key)
        held.add(url)
        try:
            yield
        finally:
            held.discard(url)
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), key)
