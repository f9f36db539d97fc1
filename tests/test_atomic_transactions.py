"""Every transaction on the ledger's engine is atomic, however it is written.

``engine.begin()``, ``engine.connect()`` then ``Connection.begin()``, autobegin ("commit as you
go"), and an ORM ``Session``'s ``begin()``: an exception inside the block leaves nothing written,
on a real SQLite file and on PostgreSQL. On SQLite each of them also takes the database's write
lock at BEGIN (``BEGIN IMMEDIATE``, issued by the engine's ``begin`` listener), so a
read-then-write cannot interleave with another writer; ``read_only_connection`` begins deferred
and takes no lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger import db
from tests.test_sqlite_lost_updates import INCREMENTS, THREADS, Increments, _make_counter, _value

metadata = sa.MetaData()
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("text", sa.String(50), nullable=False),
)


class Boom(Exception):
    """Raised inside a transaction to make it fail."""


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = db.create_engine(db_url, pool_size=2)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _count(engine: Engine) -> int:
    with db.read_only_connection(engine) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(notes)).scalar_one())


@contextmanager
def _engine_begin(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        yield conn


@contextmanager
def _connection_begin(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


@contextmanager
def _autobegin(engine: Engine) -> Iterator[Connection]:
    """Commit as you go: the first statement begins, ``commit()`` ends it."""
    with engine.connect() as conn:
        yield conn
        conn.commit()


@contextmanager
def _session_begin(engine: Engine) -> Iterator[Connection]:
    with Session(engine) as session, session.begin():
        yield session.connection()


@contextmanager
def _sessionmaker_begin(engine: Engine) -> Iterator[Connection]:
    with sessionmaker(engine).begin() as session:
        yield session.connection()


@contextmanager
def _write_transaction(engine: Engine) -> Iterator[Connection]:
    with db.write_transaction(engine) as conn:
        yield conn


Opener = Callable[[Engine], AbstractContextManager[Connection]]
OPENERS: dict[str, Opener] = {
    "engine.begin": _engine_begin,
    "Connection.begin": _connection_begin,
    "autobegin": _autobegin,
    "Session.begin": _session_begin,
    "sessionmaker.begin": _sessionmaker_begin,
    "write_transaction": _write_transaction,
}


@pytest.mark.parametrize("opener", OPENERS.values(), ids=list(OPENERS))
def test_an_exception_inside_leaves_nothing_written(engine: Engine, opener: Opener) -> None:
    with pytest.raises(Boom), opener(engine) as conn:
        conn.execute(notes.insert(), [{"text": "first"}, {"text": "second"}])
        conn.execute(notes.update().values(text="changed"))
        raise Boom
    assert _count(engine) == 0


@pytest.mark.parametrize("opener", OPENERS.values(), ids=list(OPENERS))
def test_without_an_exception_everything_is_written(engine: Engine, opener: Opener) -> None:
    with opener(engine) as conn:
        conn.execute(notes.insert(), [{"text": "first"}, {"text": "second"}])
    assert _count(engine) == 2


def test_a_failed_statement_rolls_back_what_came_before(engine: Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(notes.insert(), {"id": 1, "text": "first"})
        conn.execute(notes.insert(), {"id": 1, "text": "the same id again"})
    assert _count(engine) == 0


def test_closing_a_connection_inside_its_transaction_rolls_it_back(engine: Engine) -> None:
    """The pool does no reset of its own on check-in (``pool_reset_on_return=None``): the
    ``Connection`` ends its own transaction when closed, so nothing leaks to the next user."""
    conn = engine.connect()
    conn.execute(notes.insert(), {"text": "never committed"})
    conn.close()
    with engine.connect() as again:  # the pool hands the same DBAPI connection back
        assert again.execute(sa.select(sa.func.count()).select_from(notes)).scalar_one() == 0
        again.rollback()
    assert _count(engine) == 0


# --- SQLite: the write lock from BEGIN ------------------------------------------------------------


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = db.create_engine(sqlite_url, pool_size=2)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _database(engine: Engine) -> str:
    database = engine.url.database
    assert database and Path(database).exists()
    return database


def _other_writer_gets_in(engine: Engine) -> bool:
    """Whether another connection can take the write lock now (waiting at most 50 ms)."""
    other = sqlite3.connect(_database(engine), timeout=0.05, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    else:
        other.execute("ROLLBACK")
        return True
    finally:
        other.close()


@pytest.mark.parametrize("opener", OPENERS.values(), ids=list(OPENERS))
def test_sqlite_writes_hold_the_write_lock_from_begin(
    sqlite_engine: Engine, opener: Opener
) -> None:
    assert _other_writer_gets_in(sqlite_engine)
    with opener(sqlite_engine) as conn:
        # Only a read so far: the lock was taken by BEGIN IMMEDIATE, not by a first write.
        conn.execute(sa.select(sa.func.count()).select_from(notes)).scalar_one()
        assert not _other_writer_gets_in(sqlite_engine)
    assert _other_writer_gets_in(sqlite_engine)


@pytest.mark.parametrize("opener", [_engine_begin, _session_begin], ids=["engine.begin", "Session"])
def test_sqlite_ordinary_transactions_lose_no_updates(sqlite_url: str, opener: Opener) -> None:
    """The read-modify-write race of ``tests/test_sqlite_lost_updates.py``, written the
    ordinary way on the ledger's engine: the lock held from BEGIN lets no update go lost."""
    engine = db.create_engine(sqlite_url)
    _make_counter(engine)
    work = Increments(lambda: opener(engine))
    work.contended()
    assert work.errors == []
    assert _value(engine) == work.committed == THREADS * INCREMENTS
    assert work.max_inside == 1  # never two threads between a read and its write
    engine.dispose()


def test_sqlite_read_only_connection_takes_no_write_lock(sqlite_engine: Engine) -> None:
    with db.read_only_connection(sqlite_engine) as conn:
        conn.execute(sa.select(sa.func.count()).select_from(notes)).scalar_one()
        assert conn.in_transaction()
        assert _other_writer_gets_in(sqlite_engine)


def test_sqlite_readers_do_not_wait_for_a_writer(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as writer:
        writer.execute(notes.insert(), {"text": "not yet committed"})
        with db.read_only_connection(sqlite_engine) as reader:
            count = reader.execute(sa.select(sa.func.count()).select_from(notes)).scalar_one()
        assert count == 0  # the reader sees the last committed state, at once


def test_sqlite_a_begin_that_cannot_get_the_lock_fails_as_sqlalchemy_error(
    sqlite_url: str,
) -> None:
    engine = db.create_engine(sqlite_url, busy_timeout_s=0.05)
    metadata.create_all(engine)
    holder = sqlite3.connect(_database(engine), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sa.exc.OperationalError, match="locked"), engine.begin():
            pass
        # Autobegin too, and the connection whose BEGIN failed refuses to go on without one
        # (it would otherwise run the next statement outside any transaction).
        conn = engine.connect()
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            conn.execute(notes.insert(), {"text": "x"})
        with pytest.raises(sa.exc.ResourceClosedError):
            conn.execute(notes.insert(), {"text": "x"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with engine.begin() as conn:  # the pool is fine once the lock is free
        conn.execute(notes.insert(), {"text": "y"})
    assert _count(engine) == 1
    engine.dispose()


def test_sqlite_an_unknown_begin_mode_is_refused(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        conn.execution_options(**{db.SQLITE_BEGIN: "SOMETIMES"})
        with pytest.raises(ValueError, match="SOMETIMES"):
            conn.execute(sa.select(sa.func.count()).select_from(notes))
