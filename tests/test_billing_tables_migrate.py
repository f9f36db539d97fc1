"""Migrations ``0007`` (debt and payment references, in the ledger) and ``a004`` (billing's
tables) upgrade a database that already holds money in place, match the code, and go back and up
again keeping everything else."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from ledger import db, payments
from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import seed
from workbench.db import schema as app_schema
from workbench.db.migrate import migrate_all, revisions


def old_grant(conn: sa.Connection, amount: int) -> int:
    """A workspace with a paid grant, inserted as revision 0006's code wrote them; its account."""
    now = datetime(2026, 3, 1, tzinfo=UTC)

    def insert(sql: str, **values: object) -> int:
        return int(conn.execute(sa.text(sql + " RETURNING id"), {"t": now, **values}).scalar_one())

    workspace = insert("INSERT INTO workspaces (slug, name, created_at) VALUES ('o', 'O', :t)")
    account = insert(
        "INSERT INTO accounts (workspace_id, name, created_at) VALUES (:w, 'main', :t)",
        w=workspace,
    )
    grant = insert(
        "INSERT INTO grants (account_id, kind, amount, remaining, priority, created_at) "
        "VALUES (:acc, 'paid', :a, 0, 40, :t)",
        acc=account,
        a=amount,
    )
    insert(
        "INSERT INTO entries (account_id, kind, balance_delta, held_delta, grant_id, created_at) "
        "VALUES (:acc, 'grant', :a, 0, :g, :t)",
        acc=account,
        a=amount,
        g=grant,
    )
    return account


BILLING_TABLES = {
    "offers",
    "stripe_events",
    "billing_customers",
    "payments",
    "subscriptions",
    "auto_top_ups",
    "auto_top_up_runs",
}


def test_0007_upgrades_a_ledger_with_money_in_place(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine, "0006")
    # Money written as revision 0006's code wrote it (today's code reads columns 0007 adds).
    with engine.begin() as conn:
        account = old_grant(conn, credits(100))
    db.migrate(engine)
    book = Ledger(engine)
    balance = book.balance(account)
    assert (balance.balance, balance.debt) == (credits(100), 0)
    assert book.verify() == []
    # The new columns work: a payment and a refund beyond what is left leave debt.
    with db.write_transaction(engine) as conn:
        payments.credit(
            conn, account, credits(50), "paid", book.now(), reference="stripe:cs_m", reason="m"
        )
    with db.write_transaction(engine) as conn:
        payments.take_back(
            conn,
            account,
            credits(200),
            book.now(),
            reference="stripe:ch_m",
            paid_by="stripe:cs_m",
            reason="refund",
        )
    assert book.balance(account).net == credits(150) - credits(200)
    assert book.verify() == []
    engine.dispose()


def test_0007_goes_back_and_up_again(db_url: str) -> None:
    engine = db.create_engine(db_url)
    migrate_all(engine)
    book = Ledger(engine)
    s = seed(book, credits(100))
    # The app's tables reference the ledger's: they go first.
    db.migrate_down(engine, "a003", location=app_schema.MIGRATIONS)
    db.migrate_down(engine, "0006")
    assert "reference" not in {c["name"] for c in sa.inspect(engine).get_columns("grants")}
    with engine.connect() as conn:
        kept = conn.execute(
            sa.text("SELECT balance FROM accounts WHERE id = :id"), {"id": s.account_id}
        )
        assert kept.scalar_one() == credits(100)
    migrate_all(engine)
    assert revisions(engine).ledger == "0009"  # head
    assert book.balance(s.account_id).balance == credits(100)
    assert book.verify() == []
    engine.dispose()


def test_a004_goes_back_to_a003_dropping_only_billing(db_url: str) -> None:
    engine = db.create_engine(db_url)
    migrate_all(engine)
    book = Ledger(engine)
    s = seed(book, credits(7))
    db.migrate_down(engine, "a003", location=app_schema.MIGRATIONS)
    tables = set(sa.inspect(engine).get_table_names())
    assert not BILLING_TABLES & tables
    assert {"web_sessions", "conversations", "grants"} <= tables
    app_schema.migrate(engine)
    assert set(sa.inspect(engine).get_table_names()) >= BILLING_TABLES
    assert book.balance(s.account_id).balance == credits(7)
    engine.dispose()
