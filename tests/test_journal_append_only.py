"""The database itself refuses UPDATE and DELETE on the journal, on both backends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ledger import db
from ledger.schema import entries
from ledger.service import Ledger
from tests.conftest import Seed


@pytest.mark.parametrize(
    "statement",
    [
        entries.update().values(balance_delta=1_000_000),
        entries.update().where(entries.c.kind == "grant").values(reason="rewritten"),
        entries.delete(),
        entries.delete().where(entries.c.kind == "grant"),
    ],
    ids=["update-all", "update-one", "delete-all", "delete-one"],
)
def test_journal_changes_are_refused(
    ledger: Ledger, seeded: Seed, statement: sa.Executable
) -> None:
    before = ledger.history(seeded.account_id)
    with (
        pytest.raises(DBAPIError, match="append-only"),
        db.write_transaction(ledger.engine) as conn,
    ):
        conn.execute(statement)
    assert ledger.history(seeded.account_id) == before
    assert ledger.verify() == []


def test_verify_catches_a_tampered_cached_balance(ledger: Ledger, seeded: Seed) -> None:
    """The cached balance is not protected by triggers; verify is what notices."""
    from ledger.schema import accounts

    with db.write_transaction(ledger.engine) as conn:
        conn.execute(accounts.update().values(balance=accounts.c.balance + 7))
    problems = [str(p) for p in ledger.verify()]
    # Exact to the micro-credit: 7 millionths of a credit too many are not rounded away.
    assert any(
        "journal balance sum to 1,000 but the account says 1,000.000007" in p for p in problems
    )
