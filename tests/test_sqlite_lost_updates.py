"""Why every ledger write on SQLite opens with ``BEGIN IMMEDIATE``.

pysqlite's default transaction handling (a plain SQLAlchemy engine) sends ``BEGIN`` only before
the first INSERT/UPDATE/DELETE, so the SELECT of a read-modify-write runs outside any transaction
and lock: two threads can read the same balance, and the second write silently overwrites the
first. ``ledger.db.write_transaction`` on a ``ledger.db.create_engine`` engine takes SQLite's write
lock at BEGIN, before the read, so no second read-modify-write can start until the first commits.

All on a real SQLite file. The plain engine is shown losing updates twice: once with the threads
lined up by barriers (all read, then all write: the loss is exact), once under ordinary contention
(a short sleep between read and write; the loss is certain in practice, so only ``lost > 0`` is
asserted). The ledger's way is run on that same contended workload and must lose nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger import db
from tests.hammer import HANG_GUARD_S, describe

THREADS = 8
ROUNDS = 10  # barrier-aligned rounds: each loses exactly THREADS - 1 increments
INCREMENTS = 25  # per thread, in the contended workload
PAUSE_S = 0.002  # between the read and the write, to widen the window a race needs

Transaction = Callable[[], AbstractContextManager[Connection]]


def _make_counter(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (1, 0)")


def _value(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT value FROM counter WHERE id = 1").scalar_one())


class Increments:
    """Read-modify-write increments from several threads, counting what committed and overlapped."""

    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction
        self.committed = 0
        self.errors: list[str] = []
        self.inside = 0  # threads between their read and their write
        self.max_inside = 0
        self._lock = threading.Lock()

    def one(self, between: Callable[[], object]) -> None:
        try:
            with self.transaction() as conn:
                value = conn.exec_driver_sql("SELECT value FROM counter WHERE id = 1").scalar_one()
                with self._lock:
                    self.inside += 1
                    self.max_inside = max(self.max_inside, self.inside)
                between()
                with self._lock:
                    self.inside -= 1
                conn.exec_driver_sql("UPDATE counter SET value = ? WHERE id = 1", (value + 1,))
        except Exception as error:
            self.errors.append(describe(error))
        else:
            with self._lock:
                self.committed += 1

    def run(self, body: Callable[[], None]) -> None:
        threads = [threading.Thread(target=body) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def contended(self) -> None:
        def body() -> None:
            for _ in range(INCREMENTS):
                self.one(lambda: time.sleep(PAUSE_S))

        self.run(body)


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Engine]:
    """SQLAlchemy's defaults: pysqlite's own (deferred, lazily begun) transactions."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    _make_counter(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ledger_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    _make_counter(engine)
    yield engine
    engine.dispose()


def test_plain_engine_loses_updates_when_reads_interleave(plain: Engine) -> None:
    # Barriers line the threads up: every thread reads, then every thread writes. Nothing stops
    # that interleaving on the plain engine, and each round keeps only one of its increments.
    work = Increments(plain.begin)
    barrier = threading.Barrier(THREADS)

    def body() -> None:
        for _ in range(ROUNDS):
            barrier.wait(HANG_GUARD_S)  # the previous round's writes are all done
            work.one(lambda: barrier.wait(HANG_GUARD_S))  # every thread has read

    work.run(body)

    assert work.errors == []
    assert work.committed == THREADS * ROUNDS
    assert work.max_inside == THREADS
    assert _value(plain) == ROUNDS
    lost = work.committed - _value(plain)
    assert lost == ROUNDS * (THREADS - 1)


def test_plain_engine_loses_updates_under_contention(plain: Engine) -> None:
    work = Increments(plain.begin)
    work.contended()

    assert work.errors == []
    assert work.committed == THREADS * INCREMENTS
    lost = work.committed - _value(plain)
    assert lost > 0, "no update was lost: did the plain engine start taking the lock at BEGIN?"


def test_write_transaction_loses_no_updates(ledger_engine: Engine) -> None:
    work = Increments(lambda: db.write_transaction(ledger_engine))
    work.contended()

    assert work.errors == []
    assert work.committed == THREADS * INCREMENTS
    assert _value(ledger_engine) == THREADS * INCREMENTS
    # Never two threads between a read and its write: the lock was held from BEGIN.
    assert work.max_inside == 1
