"""On SQLite the ledger's engine leaves transactions to ``ledger.db``: its helpers issue BEGIN
IMMEDIATE (writes) or BEGIN (reads) themselves, because a "begin" event listener would slow every
transaction. A bare ``engine.begin()`` there would run in autocommit mode, so none may exist
outside ``ledger/db.py``."""

from __future__ import annotations

import re

from tests.conftest import ROOT

APP_CODE = ["ledger", "workbench", "scripts", "pages"]
BARE_BEGIN = re.compile(r"\bengine\.begin\(\)|\.connect\(\)\.begin\(\)")


def test_no_bare_engine_begin_outside_ledger_db() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in APP_CODE
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != ROOT / "ledger" / "db.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if BARE_BEGIN.search(line)
    ]
    assert offenders == [], "use ledger.db.write_transaction / read_only_connection:\n" + "\n".join(
        offenders
    )


def test_write_transaction_takes_the_write_lock_at_begin(sqlite_url: str) -> None:
    from ledger import db

    engine = db.create_engine(sqlite_url)
    with db.write_transaction(engine) as conn:
        raw = conn.connection.driver_connection
        assert raw is not None and raw.in_transaction
    with db.read_only_connection(engine) as conn:
        raw = conn.connection.driver_connection
        assert raw is not None and raw.in_transaction
    engine.dispose()
