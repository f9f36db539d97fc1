"""Transactions are SQLAlchemy's own: ``ledger.db``'s helpers are ``engine.connect()`` plus
``Connection.begin()`` (the engine's ``begin`` listener issues SQLite's BEGIN), and no code talks
to the DBAPI connection behind SQLAlchemy's back. (Plain ``engine.begin()`` is as atomic:
``tests/test_atomic_transactions.py``.)"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from ledger import db
from tests.conftest import ROOT

APP_CODE = ["ledger", "workbench", "pages"]
# The DBAPI connection under SQLAlchemy's (``driver_connection``, ``dbapi_connection``) and
# SQLAlchemy's compiled internals, which the removed ``ledger/hotpath.py`` used.
BEHIND_SQLALCHEMY = re.compile(
    r"\bdriver_connection\b|\.dbapi_connection\b|\bpositiontup\b|\.binds\b|_bind_processors"
    r"|\bhotpath\b"
)


def test_no_code_goes_behind_sqlalchemy() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in APP_CODE
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if BEHIND_SQLALCHEMY.search(line)
    ]
    assert offenders == [], "use Connection.execute / exec_driver_sql:\n" + "\n".join(offenders)


def test_helpers_run_inside_sqlalchemy_transactions(db_url: str) -> None:
    engine = db.create_engine(db_url)
    with db.write_transaction(engine) as conn:
        assert conn.in_transaction()
        assert conn.get_execution_options().get(db.SQLITE_BEGIN, "IMMEDIATE") == "IMMEDIATE"
        conn.execute(sa.text("SELECT 1"))
    with db.read_only_connection(engine) as conn:
        assert conn.in_transaction()
        if engine.dialect.name == "sqlite":
            assert conn.get_execution_options()[db.SQLITE_BEGIN] == "DEFERRED"
        conn.execute(sa.text("SELECT 1"))
    engine.dispose()


def test_write_transaction_rolls_back_on_error(db_url: str) -> None:
    engine = db.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    with pytest.raises(RuntimeError), db.write_transaction(engine) as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("rolled back")
    with db.read_only_connection(engine) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 0
    engine.dispose()
