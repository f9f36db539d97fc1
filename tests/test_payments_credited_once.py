"""A payment from outside the ledger is one grant, whatever reports it and however often: the
grant is unique by its reference, on both backends, even when reported at the same moment."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ledger import db, payments
from ledger.amounts import credits
from ledger.errors import InvalidInput
from ledger.schema import audit_events, entries, grants
from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, seed


@pytest.fixture
def empty(ledger: Ledger) -> Seed:
    return seed(ledger, 0)


def credit(book: Ledger, s: Seed, reference: str, amount: int = credits(100)) -> payments.Credited:
    with db.write_transaction(book.engine) as conn:
        return payments.credit(
            conn, s.account_id, amount, "paid", book.now(), reference=reference, reason="test"
        )


def count(book: Ledger, table: sa.Table, **where: object) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with book.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_payment_credited_twice_is_one_grant(ledger: Ledger, empty: Seed) -> None:
    first = credit(ledger, empty, "stripe:cs_1")
    again = credit(ledger, empty, "stripe:cs_1")
    assert first.created and not again.created
    assert again.grant_id == first.grant_id
    assert ledger.balance(empty.account_id).balance == credits(100)
    assert count(ledger, grants, reference="stripe:cs_1") == 1
    assert count(ledger, entries, reference="stripe:cs_1") == 1
    assert count(ledger, audit_events, action="credits.payment") == 1
    assert ledger.verify() == []


def test_ten_threads_crediting_one_payment_make_one_grant(ledger: Ledger, empty: Seed) -> None:
    results: list[payments.Credited] = []
    errors: list[BaseException] = []
    start = threading.Barrier(10)

    def work() -> None:
        start.wait()
        try:
            results.append(credit(ledger, empty, "stripe:cs_race"))
        except BaseException as error:  # collected: a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.created for r in results) == 1
    assert len({r.grant_id for r in results}) == 1
    assert ledger.balance(empty.account_id).balance == credits(100)
    assert ledger.verify() == []


def test_different_payments_are_different_grants(ledger: Ledger, empty: Seed) -> None:
    credit(ledger, empty, "stripe:cs_a")
    credit(ledger, empty, "stripe:in_b", credits(50))
    assert ledger.balance(empty.account_id).balance == credits(150)
    assert [line.reference for line in ledger.history(empty.account_id)][:2] == [
        "stripe:in_b",
        "stripe:cs_a",
    ]


@pytest.mark.parametrize(
    ("reference", "amount", "message"),
    [
        ("", credits(1), "needs a reference"),
        ("x" * 256, credits(1), "longer than 255"),
        ("stripe:cs_bad", 0, "amount"),
        ("stripe:cs_bad", -5, "amount"),
    ],
)
def test_bad_payments_are_refused_and_write_nothing(
    ledger: Ledger, empty: Seed, reference: str, amount: int, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        credit(ledger, empty, reference, amount)
    assert ledger.balance(empty.account_id).balance == 0
    assert count(ledger, grants) == 0
    assert count(ledger, audit_events, action="credits.payment") == 0


def test_a_plan_period_already_over_is_refused(
    ledger: Ledger, empty: Seed, clock: FakeClock
) -> None:
    with (
        pytest.raises(InvalidInput, match="already in the past"),
        db.write_transaction(ledger.engine) as conn,
    ):
        payments.credit(
            conn,
            empty.account_id,
            credits(10),
            "plan",
            clock.now,
            reference="stripe:in_old",
            reason="old period",
            expires_at=clock.now - timedelta(seconds=1),
        )
    assert count(ledger, grants) == 0
