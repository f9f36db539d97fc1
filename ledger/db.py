"""Engines for the ledger's two backends, and migrations on start-up.

SQLite: WAL, a busy timeout and ``BEGIN IMMEDIATE`` for every write transaction. The pysqlite
driver's own transaction handling starts transactions lazily (at the first INSERT/UPDATE), so a
read-then-write transaction runs its reads outside any lock and two threads can both "see" the
same balance; taking the write lock at BEGIN closes that window. The engine follows SQLAlchemy's
documented recipe for pysqlite ("Enabling Non-Legacy SQLite Transactional Modes"): a ``connect``
listener switches the driver's implicit transactions off, and a ``begin`` listener emits the
BEGIN. So every SQLAlchemy transaction — ``engine.begin()``, ``Connection.begin()``, autobegin,
``Session.begin()`` — is atomic and takes the write lock at BEGIN. The kind of BEGIN is the
execution option ``sqlite_begin`` (default ``"IMMEDIATE"``); ``read_only_connection`` sets it to
``"DEFERRED"``, so readers never queue behind writers.

PostgreSQL: psycopg 3 at READ COMMITTED; write paths lock the account row first (``SELECT … FOR
UPDATE``), always in the order account → hold → grants, so concurrent writers serialise per account
and never deadlock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    busy_timeout_s: float = 30.0,
    sqlite_synchronous: str = "NORMAL",
    echo: bool = False,
) -> Engine:
    """An engine configured for the ledger's transaction discipline on either backend."""
    sa_url = sa.make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, pool_size, busy_timeout_s, sqlite_synchronous, echo)
    if sa_url.get_backend_name() == "postgresql":
        if sa_url.drivername == "postgresql":
            sa_url = sa_url.set(drivername="postgresql+psycopg")
        return sa.create_engine(
            sa_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo
        )
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def sqlite_pragmas(busy_timeout_s: float = 30.0, synchronous: str = "NORMAL") -> list[str]:
    """The per-connection settings of every SQLite connection the ledger opens."""
    return [
        f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}",
        # A write's cost is mostly the pages it appends to the WAL; ledger rows are small, so
        # 1 KiB pages write a quarter of the bytes. Takes effect only when the file is created.
        "PRAGMA page_size = 1024",
        "PRAGMA journal_mode = WAL",
        # Checkpoint every 4,000 pages: the 4 MiB of WAL of SQLite's default with 4 KiB pages.
        "PRAGMA wal_autocheckpoint = 4000",
        f"PRAGMA synchronous = {synchronous.upper()}",
        "PRAGMA foreign_keys = ON",
    ]


def _sqlite_engine(
    url: str, pool_size: int, busy_timeout_s: float, synchronous: str, echo: bool
) -> Engine:
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"unknown SQLite synchronous mode {synchronous!r}")
    database = sa.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
        poolclass=sa.pool.QueuePool,
        pool_size=pool_size,
        max_overflow=pool_size,
        # Every transaction is SQLAlchemy's own (the ``begin`` listener below issues its BEGIN), and
        # ``Connection.close()`` rolls back a transaction still open, so a connection never goes
        # back to the pool inside one: the pool's extra rollback on check-in is pure overhead.
        pool_reset_on_return=None,
        echo=echo,
    )

    pragmas = sqlite_pragmas(busy_timeout_s, synchronous)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Switch the driver's implicit BEGIN off (SQLAlchemy's recipe), then the pragmas.
        dbapi_connection.isolation_level = None
        for pragma in pragmas:
            _execute_when_free(dbapi_connection, pragma, busy_timeout_s)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        try:
            begin = _BEGIN_STATEMENTS.get(mode)
            if begin is None:
                raise ValueError(f"unknown {SQLITE_BEGIN} mode {mode!r}: use IMMEDIATE or DEFERRED")
            connection.exec_driver_sql(begin)
        except BaseException:
            # The BEGIN failed (busy timeout, say). Close the connection: SQLAlchemy would not
            # start another transaction on it, and a statement run on it without one would commit
            # on its own. Closed, it refuses any further use instead.
            connection.close()
            raise

    _SQLITE_WRITERS[id(engine)] = _SqliteWriter()
    # Disposing drops the pool; the writer's kept connection goes with it.
    sa.event.listen(engine, "engine_disposed", _close_sqlite_writer)
    return engine


# The execution option that says which BEGIN a SQLite transaction starts with.
SQLITE_BEGIN = "sqlite_begin"
_BEGIN_STATEMENTS = {
    "IMMEDIATE": "BEGIN IMMEDIATE",
    "DEFERRED": "BEGIN DEFERRED",
    "EXCLUSIVE": "BEGIN EXCLUSIVE",
}


def _execute_when_free(dbapi_connection: Any, pragma: str, timeout_s: float) -> None:
    """Run a pragma, waiting out "database is locked".

    Switching a brand-new file to WAL needs an exclusive lock and SQLite reports a conflict at once
    instead of calling the busy handler, so processes opening a fresh database together would
    otherwise fail now and then.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            dbapi_connection.execute(pragma)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class _SqliteWriter:
    """One engine's side of SQLite's single write slot in this process: the queue (a re-entrant
    lock) and the connection the writes go through.

    Only one write transaction runs at a time anyway, so one connection serves them all: kept
    checked out, a write skips the pool's checkout, the ``Connection`` set-up and the check-in,
    a sixth of what SQLAlchemy adds to a reserve or capture. It is replaced when its BEGIN failed
    (the ``begin`` listener closes it) or it was invalidated, and closed with the engine.
    """

    def __init__(self) -> None:
        # SQLite lets one writer in at a time. Threads of one process queue on this lock, which
        # hands over at once, rather than in SQLite's busy handler, which polls with sleeps of up
        # to 100 ms. Writers in other processes still meet at BEGIN IMMEDIATE and its busy
        # timeout. Re-entrant so that a (mistakenly) nested write transaction fails on SQLite's
        # busy timeout instead of hanging here.
        self.lock = threading.RLock()
        self._connection: Connection | None = None
        self._pid = os.getpid()

    def connection(self, engine: Engine) -> Connection | None:
        """The kept connection, ready for a BEGIN; None while it is busy (a nested write in the
        thread holding the lock, which must then use a connection of its own). Call with the lock
        held."""
        kept = self._connection
        if kept is None or kept.closed or kept.invalidated or self._pid != os.getpid():
            # A forked child never touches its parent's SQLite connection: it opens its own.
            kept = self._connection = engine.connect()
            self._pid = os.getpid()
        elif kept.in_transaction():
            return None
        return kept

    def close(self) -> None:
        with self.lock:
            kept, self._connection = self._connection, None
            if kept is not None and not kept.closed and self._pid == os.getpid():
                # Detached, closing it closes the file: the engine's old pool is being dropped.
                kept.detach()
                kept.close()


# Keyed by the engine (a plain dict lookup is cheaper than a weak one), entered when the engine is
# created, so an id reused by a later engine gets a fresh writer. An engine with a kept connection
# stays referenced until it is disposed; a disposed engine's writer is only a lock.
_SQLITE_WRITERS: dict[int, _SqliteWriter] = {}


def _close_sqlite_writer(engine: Engine) -> None:
    writer = _SQLITE_WRITERS.get(id(engine))
    if writer is not None:
        writer.close()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction: BEGIN IMMEDIATE on SQLite, READ COMMITTED on PostgreSQL.

    As atomic as ``engine.begin()``, which it is but for the in-process queue for SQLite's
    single writer slot and the connection kept for it.
    """
    writer = _SQLITE_WRITERS.get(id(engine))
    if writer is None:  # PostgreSQL, or an SQLite engine made elsewhere
        with engine.begin() as connection:
            yield connection
        return
    with writer.lock:
        kept = writer.connection(engine)
        if kept is None:
            with engine.begin() as connection:
                yield connection
            return
        with kept.begin():
            yield kept


@contextmanager
def read_only_connection(engine: Engine) -> Iterator[Connection]:
    """A read transaction that never takes SQLite's write lock (a deferred BEGIN)."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
        with connection.begin():
            yield connection


# Any fixed number: PostgreSQL's advisory lock that serialises processes migrating at once (public
# so that a test can hold it and make processes meet there).
MIGRATION_LOCK = 0x5745_4C44  # "WELD": workbench ledger


def alembic_config(connection: Connection | None = None, location: Path = MIGRATIONS) -> Config:
    """Alembic's configuration for the migrations in ``location`` (the ledger's by default; the
    app keeps its own tables' migrations beside it, with their own version table)."""
    config = Config()
    config.set_main_option("script_location", str(location))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, revision: str = "head", location: Path = MIGRATIONS) -> None:
    """Bring the schema to ``revision``: an existing database is upgraded, never recreated.

    All pending migrations run in one write transaction (SQLite and PostgreSQL both have
    transactional DDL), so a crash half-way leaves the database as it was. Processes starting at
    once take turns: BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL; the later ones find
    the schema at head and do nothing.
    """
    _run_migrations(engine, lambda config: command.upgrade(config, revision), location)


def migrate_down(engine: Engine, revision: str, location: Path = MIGRATIONS) -> None:
    """Undo migrations down to ``revision`` (``"base"`` empties the schema)."""
    _run_migrations(engine, lambda config: command.downgrade(config, revision), location)


def _run_migrations(engine: Engine, run: Callable[[Config], None], location: Path) -> None:
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        run(alembic_config(connection, location))


def current_revision(engine: Engine, version_table: str = "alembic_version") -> str | None:
    """The revision of the Alembic tree whose history is kept in ``version_table``."""
    from alembic.runtime.migration import MigrationContext

    with read_only_connection(engine) as connection:
        context = MigrationContext.configure(connection, opts={"version_table": version_table})
        return context.get_current_revision()
