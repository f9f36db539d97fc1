"""On SQLite, ``write_transaction`` keeps one connection per engine for its writes (one write runs
at a time anyway): reused while it is healthy, replaced when its BEGIN failed, never shared with a
nested write, and closed with the engine."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger import db

metadata = sa.MetaData()
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("text", sa.String(50), nullable=False),
)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = db.create_engine(sqlite_url, busy_timeout_s=0.05)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _texts(engine: Engine) -> list[str]:
    with db.read_only_connection(engine) as conn:
        return list(conn.execute(sa.select(notes.c.text).order_by(notes.c.id)).scalars())


def test_writes_reuse_one_connection_and_each_commits(engine: Engine) -> None:
    seen = []
    for text in ("one", "two"):
        with db.write_transaction(engine) as conn:
            conn.execute(notes.insert(), {"text": text})
            seen.append(conn)
    assert seen[0] is seen[1]
    assert _texts(engine) == ["one", "two"]


def test_a_write_that_raised_rolls_back_and_the_next_one_is_clean(engine: Engine) -> None:
    with pytest.raises(ZeroDivisionError), db.write_transaction(engine) as conn:
        conn.execute(notes.insert(), {"text": "lost"})
        raise ZeroDivisionError
    with db.write_transaction(engine) as again:
        assert not again.execute(sa.select(notes.c.text)).all()  # nothing left over
        again.execute(notes.insert(), {"text": "kept"})
    assert again is conn
    assert _texts(engine) == ["kept"]


def test_a_failed_begin_replaces_the_connection(engine: Engine) -> None:
    with db.write_transaction(engine) as first:
        pass
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sa.exc.OperationalError, match="locked"), db.write_transaction(engine):
            pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert first.closed  # the begin listener closed it rather than let it run without a BEGIN
    with db.write_transaction(engine) as second:
        second.execute(notes.insert(), {"text": "after the lock was free"})
    assert second is not first
    assert _texts(engine) == ["after the lock was free"]


def test_a_nested_write_does_not_borrow_the_busy_connection(engine: Engine) -> None:
    """A nested write in the same thread gets a connection of its own, whose BEGIN IMMEDIATE then
    waits for the outer one (here: gives up after the busy timeout); the outer write is intact."""
    with db.write_transaction(engine) as outer:
        outer.execute(notes.insert(), {"text": "outer"})
        with (
            pytest.raises(sa.exc.OperationalError, match="locked"),
            db.write_transaction(engine) as inner,
        ):
            inner.execute(notes.insert(), {"text": "inner"})
        assert outer.in_transaction()
    assert _texts(engine) == ["outer"]


def test_threads_take_turns_on_the_kept_connection(engine: Engine) -> None:
    def work(n: int) -> None:
        for i in range(50):
            with db.write_transaction(engine) as conn:
                count = conn.execute(sa.select(sa.func.count()).select_from(notes)).scalar_one()
                conn.execute(notes.insert(), {"text": f"{n}-{i}-{count}"})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = _texts(engine)
    # 200 rows, and each saw exactly the rows committed before it: no two writes interleaved.
    assert [int(t.rsplit("-", 1)[1]) for t in texts] == list(range(200))


def test_dispose_closes_the_kept_connection(engine: Engine) -> None:
    with db.write_transaction(engine) as kept:
        kept.execute(notes.insert(), {"text": "before"})
    engine.dispose()
    assert kept.closed
    with db.write_transaction(engine) as fresh:  # the engine still works, with a new one
        fresh.execute(notes.insert(), {"text": "after"})
    assert fresh is not kept
    assert _texts(engine) == ["before", "after"]
