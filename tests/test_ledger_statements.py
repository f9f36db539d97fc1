"""The ledger's hot statements are ordinary SQLAlchemy executions on both backends: their rows are
SQLAlchemy rows with typed values, their errors are SQLAlchemy's exception types, and every
statement reaches SQLAlchemy's cursor events and its echo log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from ledger import db, idempotency
from ledger.holds import _CAPTURE_FACTS
from ledger.idempotency import KeyCheck
from ledger.service import Ledger
from tests.conftest import PRICES, Seed, reserve, seed


@pytest.fixture
def book(db_url: str) -> Iterator[Ledger]:
    ledger = Ledger.open(db_url)
    ledger.import_prices(PRICES)
    yield ledger
    ledger.close()


@pytest.fixture
def s(book: Ledger) -> Seed:
    return seed(book, 500)


def test_facts_rows_come_back_typed(book: Ledger, s: Seed) -> None:
    hold_id = reserve(book, s, 10, "r1")
    with db.write_transaction(book.engine) as conn:
        row = conn.execute(_CAPTURE_FACTS, {"hold_id": hold_id, "idem_key": "x"}).first()
    assert row is not None
    assert isinstance(row.created_at, datetime) and row.created_at.tzinfo is not None
    assert row.status == "pending" and row.amount == 10
    assert row.idem_hash is None and row.idem_outcome is None


def _check(key: str) -> KeyCheck:
    return KeyCheck("t", key, "h")


def test_driver_errors_are_sqlalchemy_errors_and_roll_back_whole(book: Ledger, s: Seed) -> None:
    with pytest.raises(sa.exc.IntegrityError), db.write_transaction(book.engine) as conn:
        idempotency.record(conn, _check("k"), "{}", book.now())
        idempotency.record(conn, _check("k"), "{}", book.now())
    with db.read_only_connection(book.engine) as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM idempotency_keys WHERE scope = 't'"))
        assert count.scalar_one() == 0  # the failed transaction rolled back whole


def test_a_bad_bind_value_is_a_statement_error(book: Ledger, s: Seed) -> None:
    # A naive datetime is refused by the column type while SQLAlchemy processes the binds.
    with pytest.raises(sa.exc.StatementError), db.write_transaction(book.engine) as conn:
        idempotency.record(conn, _check("naive"), "{}", datetime(2026, 1, 1))
    with db.read_only_connection(book.engine) as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM idempotency_keys WHERE scope = 't'"))
        assert count.scalar_one() == 0


def _verbs(statements: list[str]) -> list[str]:
    """``INSERT holds``, ``UPDATE grants``…: each statement's verb and table."""
    verbs = []
    for words in (statement.split() for statement in statements):
        if len(words) >= 3 and words[0] in ("INSERT", "DELETE"):
            verbs.append(f"{words[0]} {words[2]}")
        elif len(words) >= 2 and words[0] == "UPDATE":
            verbs.append(f"{words[0]} {words[1]}")
    return verbs


def test_every_hot_statement_fires_cursor_events(book: Ledger, s: Seed) -> None:
    seen: list[str] = []

    def listener(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(book.engine, "before_cursor_execute", listener)
    hold_id = reserve(book, s, 10, "traced")
    book.capture(hold_id, 6, key="traced")
    sa.event.remove(book.engine, "before_cursor_execute", listener)
    verbs = _verbs(seen)
    for verb in ("INSERT holds", "INSERT idempotency_keys", "UPDATE holds", "INSERT entries"):
        assert verb in verbs, verbs
    if book.engine.dialect.name == "sqlite":
        # Each of the two transactions opened with the engine's own BEGIN IMMEDIATE.
        assert seen.count("BEGIN IMMEDIATE") == 2


def test_echo_logs_every_statement(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    book = Ledger.open(db_url)
    book.import_prices(PRICES)
    s = seed(book, 500)
    book.close()
    echoing = Ledger.open(db_url, migrate=False, echo=True)
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
            hold_id = reserve(echoing, s, 10, "echoed")
            echoing.capture(hold_id, 6, key="echoed")
    finally:
        echoing.close()
    logged = [r.getMessage() for r in caplog.records if r.name == "sqlalchemy.engine.Engine"]
    verbs = _verbs(logged)
    for verb in ("INSERT holds", "INSERT idempotency_keys", "UPDATE holds", "INSERT entries"):
        assert verb in verbs, logged
    if db_url.startswith("sqlite"):
        assert logged.count("BEGIN IMMEDIATE") == 2
