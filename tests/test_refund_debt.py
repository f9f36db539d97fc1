"""A refund or a lost dispute takes a payment's credits back once; what was already spent becomes
debt (the net balance goes below zero), nothing is lost, and the next credits repay it first."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ledger import db, payments
from ledger.amounts import credits
from ledger.schema import audit_events
from ledger.service import Ledger
from tests.conftest import Seed, reserve, seed


@pytest.fixture
def empty(ledger: Ledger) -> Seed:
    return seed(ledger, 0)


def pay(book: Ledger, s: Seed, reference: str, amount: int) -> int:
    with db.write_transaction(book.engine) as conn:
        return payments.credit(
            conn, s.account_id, amount, "paid", book.now(), reference=reference, reason="bought"
        ).grant_id


def take_back(book: Ledger, s: Seed, amount: int, paid_by: str) -> payments.TakenBack:
    with db.write_transaction(book.engine) as conn:
        return payments.take_back(
            conn,
            s.account_id,
            amount,
            book.now(),
            reference="stripe:ch_1",
            paid_by=paid_by,
            reason="refund",
        )


def spend(book: Ledger, s: Seed, amount: int, key: str) -> None:
    hold = reserve(book, s, amount, key)
    book.capture(hold, amount, key=f"{key}-capture")


def test_refund_before_spending_takes_the_credits(ledger: Ledger, empty: Seed) -> None:
    pay(ledger, empty, "stripe:cs_1", credits(100))
    assert take_back(ledger, empty, credits(100), "stripe:cs_1") == payments.TakenBack(
        credits(100), 0
    )
    balance = ledger.balance(empty.account_id)
    assert (balance.balance, balance.debt, balance.net) == (0, 0, 0)
    assert ledger.verify() == []


def test_refund_after_spending_leaves_debt_and_nothing_lost(ledger: Ledger, empty: Seed) -> None:
    pay(ledger, empty, "stripe:cs_1", credits(100))
    spend(ledger, empty, credits(70), "spent")
    result = take_back(ledger, empty, credits(100), "stripe:cs_1")
    assert result == payments.TakenBack(taken=credits(30), owed=credits(70))
    balance = ledger.balance(empty.account_id)
    assert (balance.balance, balance.available, balance.debt) == (0, 0, credits(70))
    assert balance.net == -credits(70)
    lines = [line for line in ledger.history(empty.account_id) if line.kind == "refund"]
    assert {line.reference for line in lines} == {"stripe:ch_1"}
    assert sum(line.balance_delta for line in lines) == -credits(30)
    assert sum(line.debt_delta for line in lines) == credits(70)
    with ledger.engine.connect() as conn:
        actions = conn.execute(sa.select(audit_events.c.action)).scalars().all()
    assert "credits.reversal" in actions
    assert ledger.verify() == []


def test_the_next_credits_repay_the_debt_first(ledger: Ledger, empty: Seed) -> None:
    pay(ledger, empty, "stripe:cs_1", credits(100))
    spend(ledger, empty, credits(100), "all")
    take_back(ledger, empty, credits(100), "stripe:cs_1")
    pay(ledger, empty, "stripe:cs_2", credits(30))
    balance = ledger.balance(empty.account_id)
    assert (balance.balance, balance.debt) == (0, credits(70))
    ledger.grant(empty.account_id, credits(100), kind="paid", key="more")
    balance = ledger.balance(empty.account_id)
    assert (balance.balance, balance.debt, balance.available) == (credits(30), 0, credits(30))
    assert ledger.verify() == []


def test_credits_held_by_a_running_call_stay_with_it(ledger: Ledger, empty: Seed) -> None:
    pay(ledger, empty, "stripe:cs_1", credits(100))
    hold = reserve(ledger, empty, credits(40), "running")
    result = take_back(ledger, empty, credits(100), "stripe:cs_1")
    assert result == payments.TakenBack(taken=credits(60), owed=credits(40))
    ledger.capture(hold, credits(10), key="running-capture")
    balance = ledger.balance(empty.account_id)
    # The call paid 10 of its 40; the 30 released are the account's again, still owing 40.
    assert (balance.balance, balance.held, balance.debt) == (credits(30), 0, credits(40))
    assert ledger.verify() == []


def test_the_payments_own_grant_is_drawn_on_first(ledger: Ledger, empty: Seed) -> None:
    promo = ledger.grant(empty.account_id, credits(50), kind="promo", key="promo").grant_id
    paid = pay(ledger, empty, "stripe:cs_1", credits(100))
    take_back(ledger, empty, credits(60), "stripe:cs_1")
    left = {
        g.id: g.remaining
        for g in ledger.grants_of(empty.workspace_id, actor_user_id=empty.operator_id)
    }
    assert left == {promo: credits(50), paid: credits(40)}
    assert ledger.verify() == []
