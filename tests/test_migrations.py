"""Migrations: the same files on both backends; an existing database is upgraded in place."""

from __future__ import annotations

import multiprocessing

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ledger import db
from ledger.amounts import credits
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
    first.import_prices(PRICES)
    s = seed(first, credits(321))
    first.close()
    again = Ledger.open(db_url)  # migrates again on start-up: a no-op at head
    assert db.current_revision(again.engine) == head()
    assert again.balance(s.account_id).balance == credits(321)
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


def test_a_crash_half_way_through_migrating_leaves_nothing_behind(db_url: str) -> None:
    engine = db.create_engine(db_url)
    created: list[str] = []

    def crash_on_fifth_table(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("CREATE TABLE"):
            created.append(statement)
            if len(created) == 5:
                raise RuntimeError("simulated crash in the middle of a migration")

    sa.event.listen(engine, "before_cursor_execute", crash_on_fifth_table)
    with pytest.raises(RuntimeError, match="simulated crash"):
        db.migrate(engine)
    sa.event.remove(engine, "before_cursor_execute", crash_on_fifth_table)
    assert sa.inspect(engine).get_table_names() == []
    db.migrate(engine)
    assert db.current_revision(engine) == head()
    engine.dispose()


def _open_and_close(url: str) -> str:
    Ledger.open(url).close()
    return "ok"


def test_processes_starting_together_migrate_once(db_url: str) -> None:
    """Replicas starting at the same moment on a fresh database must not trip over each other."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.map(_open_and_close, [db_url] * 4)
    assert results == ["ok"] * 4
    engine = db.create_engine(db_url)
    assert db.current_revision(engine) == head()
    engine.dispose()
