"""A grant's remainder moves only through the journal: each line that names a grant adds its
balance delta to it (trigger ``entries_apply_to_grant``), on both backends, and ``verify`` checks
every grant against its lines."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ledger import db, journal
from ledger.amounts import credits
from ledger.journal import Entry
from ledger.schema import entries, grants
from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, reserve, seed


def _remainders(book: Ledger) -> dict[int, int]:
    with db.read_only_connection(book.engine) as conn:
        return {
            row.id: row.remaining
            for row in conn.execute(sa.select(grants.c.id, grants.c.remaining))
        }


def _journal_sums(book: Ledger) -> dict[int, int]:
    query = (
        sa.select(entries.c.grant_id, sa.func.sum(entries.c.balance_delta))
        .where(entries.c.grant_id.is_not(None))
        .group_by(entries.c.grant_id)
    )
    with db.read_only_connection(book.engine) as conn:
        return {grant_id: int(total) for grant_id, total in conn.execute(query)}


def test_every_remainder_is_the_sum_of_its_lines(ledger: Ledger, clock: FakeClock) -> None:
    s = seed(ledger)
    paid = ledger.grant(s.account_id, credits(10), kind="paid", key="paid").grant_id
    promo = ledger.grant(
        s.account_id,
        credits(3),
        kind="promo",
        key="promo",
        expires_at=clock.now + timedelta(days=1),
    ).grant_id
    assert _remainders(ledger) == {paid: credits(10), promo: credits(3)}

    # A capture of 4 credits takes the promo grant's 3 first, then 1 from the paid one.
    hold_id = reserve(ledger, s, credits(5), "r1")
    ledger.capture(hold_id, credits(4), key="c1")
    assert _remainders(ledger) == {paid: credits(9), promo: 0}

    # An admin takes 2 back; a new promo grant expires unspent.
    ledger.adjust(s.account_id, -credits(2), actor_user_id=s.operator_id, reason="refund", key="a1")
    late = ledger.grant(
        s.account_id,
        credits(1),
        kind="promo",
        key="late",
        expires_at=clock.now + timedelta(hours=1),
    ).grant_id
    clock.advance(hours=2)
    ledger.sweep()
    ledger.balance(s.account_id)  # settles the due expiry
    hold_id = reserve(ledger, s, credits(1), "r2")  # a write on the account expires it for sure
    ledger.release(hold_id, reason="not needed", key="rel2")

    assert _remainders(ledger) == {paid: credits(7), promo: 0, late: 0}
    assert _journal_sums(ledger) == _remainders(ledger)
    assert ledger.verify() == []


def test_a_line_that_would_overdraw_a_grant_is_refused(ledger: Ledger, seeded: Seed) -> None:
    (grant_id,) = _remainders(ledger)
    before = ledger.history(seeded.account_id)
    overdraw = Entry(
        seeded.account_id, "adjustment", balance_delta=-credits(1001), grant_id=grant_id
    )
    with pytest.raises(IntegrityError), db.write_transaction(ledger.engine) as conn:
        journal.append(conn, [overdraw], ledger.now())
    # Nothing moved: not the grant, not the journal, not the account.
    assert _remainders(ledger) == {grant_id: credits(1000)}
    assert ledger.history(seeded.account_id) == before
    assert ledger.verify() == []


def test_verify_names_a_grant_whose_remainder_left_its_journal(ledger: Ledger) -> None:
    """Credits moved between two grants of one account keep the account's sums right: only the
    per-grant check notices."""
    s = seed(ledger)
    first = ledger.grant(s.account_id, credits(10), kind="paid", key="g1").grant_id
    second = ledger.grant(s.account_id, credits(20), kind="promo", key="g2").grant_id
    ledger.capture(reserve(ledger, s, credits(5), "r"), credits(5), key="c")  # promo spends first
    with db.write_transaction(ledger.engine) as conn:
        conn.execute(grants.update().where(grants.c.id == first).values(remaining=credits(9)))
        conn.execute(grants.update().where(grants.c.id == second).values(remaining=credits(16)))
    problems = [str(p) for p in ledger.verify()]
    assert problems == [
        f"account {s.account_id}: grant {first} has 9 remaining but its journal lines sum to 10",
        f"account {s.account_id}: grant {second} has 16 remaining but its journal lines sum to 15",
    ]
