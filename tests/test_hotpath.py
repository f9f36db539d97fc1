"""Hot statements on SQLite: the driver-cursor path returns what SQLAlchemy would, raises its
exception types, and shows up in cursor events when tracing is switched on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from ledger import db, hotpath
from ledger.amounts import credits
from ledger.grants import _OPEN
from ledger.holds import _CAPTURE_FACTS, _RESERVE_FACTS
from ledger.idempotency import _RECORD
from ledger.service import Ledger
from tests.conftest import PRICES, Seed, reserve, seed


@pytest.fixture
def book(sqlite_url: str) -> Iterator[Ledger]:
    ledger = Ledger.open(sqlite_url)
    ledger.import_prices(PRICES)
    yield ledger
    ledger.close()


@pytest.fixture
def s(book: Ledger) -> Seed:
    return seed(book, credits(500))


def test_rows_match_sqlalchemy_rows(book: Ledger, s: Seed) -> None:
    hold_id = reserve(book, s, credits(10), "r1")
    cases: list[tuple[hotpath.HotStatement, dict[str, Any]]] = [
        (
            _RESERVE_FACTS,
            {
                "account_id": s.account_id,
                "user_id": s.member_id,
                "model": "demo/chat",
                "idem_key": "r1",
            },
        ),
        (_CAPTURE_FACTS, {"hold_id": hold_id, "idem_key": "nope"}),
        (_OPEN, {"account_id": s.account_id}),
    ]
    with db.write_transaction(book.engine) as conn:
        for hot, params in cases:
            fast = hot.all(conn, params)
            plain = list(conn.execute(hot.statement, params))
            assert [tuple(row) for row in fast] == [tuple(row) for row in plain]
            assert fast and fast[0]._fields == tuple(plain[0]._fields)
    with db.write_transaction(book.engine) as conn:
        row = _CAPTURE_FACTS.first(conn, {"hold_id": hold_id, "idem_key": "x"})
    assert isinstance(row.created_at, datetime) and row.created_at.tzinfo is not None
    assert row.status == "pending" and row.amount == credits(10)


def test_driver_errors_become_sqlalchemy_errors(book: Ledger, s: Seed) -> None:
    values = {
        "scope": "t",
        "key": "k",
        "request_hash": "h",
        "outcome": "{}",
        "created_at": book.now(),
    }
    with pytest.raises(sa.exc.IntegrityError), db.write_transaction(book.engine) as conn:
        _RECORD.execute(conn, values)
        _RECORD.execute(conn, values)
    with db.read_only_connection(book.engine) as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM idempotency_keys WHERE scope = 't'"))
        assert count.scalar_one() == 0  # the failed transaction rolled back whole


def test_cursor_events_fire_only_when_tracing(book: Ledger, s: Seed) -> None:
    seen: list[str] = []

    def listener(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split(maxsplit=1)[0] + " " + statement.split()[2])

    sa.event.listen(book.engine, "before_cursor_execute", listener)
    reserve(book, s, credits(10), "quiet")
    assert not any(line.startswith("INSERT holds") for line in seen)
    hotpath.trace_cursor_events(True)
    try:
        reserve(book, s, credits(10), "traced")
    finally:
        hotpath.trace_cursor_events(False)
    assert "INSERT holds" in seen
