"""Migrations: the same files on both backends; an existing database is upgraded in place."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ledger import db
from ledger.schema import metadata
from ledger.service import Ledger
from tests.conftest import PRICES, seed


def head() -> str | None:
    return ScriptDirectory.from_config(db.alembic_config()).get_current_head()


def test_schema_matches_the_tables_the_code_uses(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_reopening_upgrades_in_place_and_keeps_data(db_url: str) -> None:
    first = Ledger.open(db_url)
    first.sync_prices(PRICES)
    s = seed(first, 321)
    first.close()
    again = Ledger.open(db_url)  # migrates again on start-up: a no-op at head
    assert db.current_revision(again.engine) == head()
    assert again.balance(s.account_id).balance == 321
    assert again.verify() == []
    again.close()


def test_downgrade_to_base_and_back(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine)
    db.migrate_down(engine, "base")
    assert "entries" not in sa.inspect(engine).get_table_names()
    db.migrate(engine)
    assert db.current_revision(engine) == head()
    engine.dispose()
