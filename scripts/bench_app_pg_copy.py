"""Copying the benchmark's SQLite database into a migrated PostgreSQL database, and checking the
copy (``scripts/bench_app_postgres.py`` decides where and when).

``migrate_like`` migrates the empty database as every ``workbench`` entry point does and checks
it has the file's revisions and tables; ``copy_rows`` copies every table with psycopg's ``COPY``
in foreign-key order, in one transaction with ``session_replication_role = replica`` (no
triggers: the ledger keeps each account's balance and each grant's remainder by trigger on
``entries``, and a copied journal applied again would double them) and ``TimeZone = UTC``
(SQLite holds naive UTC text), then sets every serial or identity sequence past its column's
``max``; ``check_copy`` compares every table's row count, the triggers' results (balances,
remainders) and each account's sums against its journal. A difference is ``CopyMismatch``.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from psycopg import sql

from ledger import db
from scripts.bench_measure import stage
from workbench.db.migrate import migrate_all

VERSION_TABLES: Final = ("alembic_version", "workbench_alembic_version")
BATCH: Final = 10_000

# Each serial or identity sequence of the current schema, with the column it numbers.
OWNED_SEQUENCES: Final = """
SELECT quote_ident(ns.nspname) || '.' || quote_ident(seq.relname), tbl.relname, col.attname
FROM pg_depend dep
JOIN pg_class seq ON seq.oid = dep.objid AND seq.relkind = 'S'
JOIN pg_namespace ns ON ns.oid = seq.relnamespace
JOIN pg_class tbl ON tbl.oid = dep.refobjid
JOIN pg_attribute col ON col.attrelid = tbl.oid AND col.attnum = dep.refobjsubid
WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
  AND dep.deptype IN ('a', 'i') AND ns.nspname = current_schema()
ORDER BY 2, 3
"""
# Each account's cached sums against its journal's (the triggers' work, copied rather than redone).
JOURNAL_DRIFT: Final = """
SELECT a.id FROM accounts a
LEFT JOIN (
    SELECT account_id, sum(balance_delta) AS balance, sum(held_delta) AS held,
           sum(debt_delta) AS debt
    FROM entries GROUP BY account_id
) j ON j.account_id = a.id
WHERE a.balance <> coalesce(j.balance, 0) OR a.held <> coalesce(j.held, 0)
   OR a.debt <> coalesce(j.debt, 0)
ORDER BY a.id LIMIT 5
"""
# What must be equal, row for row, in the file and the copy (the triggers' results).
BALANCES: Final = (
    "SELECT id, balance, held, debt FROM accounts ORDER BY id",
    "SELECT id, remaining FROM grants ORDER BY id",
)


class CopyMismatch(Exception):
    """The copy on PostgreSQL does not hold what the SQLite file holds."""


def migrate_like(url: str, lite: sqlite3.Connection) -> list[sa.Table]:
    """Migrate the empty database at ``url`` as the app does and check it is at the revisions
    the file is at; returns its tables (no version tables) in foreign-key order."""
    engine = db.create_engine(url, pool_size=1)
    try:
        with stage("migrate (workbench.db.migrate.migrate_all)"):
            revisions = migrate_all(engine)
        metadata = sa.MetaData()
        metadata.reflect(engine)
    finally:
        engine.dispose()
    theirs = tuple(
        lite.execute(f"SELECT max(version_num) FROM {_quoted(table)}").fetchone()[0]
        for table in VERSION_TABLES
    )
    if theirs != (revisions.ledger, revisions.app):
        raise CopyMismatch(
            f"the SQLite file is at ledger {theirs[0]}, app {theirs[1]}; this code migrates "
            f"PostgreSQL to {revisions}"
        )
    tables = [t for t in metadata.sorted_tables if t.name not in VERSION_TABLES]
    in_file = {
        row[0]
        for row in lite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    expected = {t.name for t in tables} | set(VERSION_TABLES)
    if in_file != expected:
        raise CopyMismatch(
            f"tables only in the SQLite file: {sorted(in_file - expected)}; "
            f"only in the migrated database: {sorted(expected - in_file)}"
        )
    return tables


def copy_rows(
    conn: psycopg.Connection[Any], lite: sqlite3.Connection, tables: list[sa.Table]
) -> float:
    """Every table's rows from the file with COPY, triggers off, in one transaction; then every
    sequence set past its column's largest value. Returns the seconds the rows took."""
    started = time.perf_counter()
    conn.execute("SET session_replication_role = replica")
    conn.execute("SET TimeZone = 'UTC'")
    for table in tables:  # what the migrations wrote (usage_purge_state's one row) goes
        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table.name)))
    with stage(f"COPY {len(tables)} tables"):
        for table in tables:
            columns = [column.name for column in table.columns]
            in_file = [row[1] for row in lite.execute(f"PRAGMA table_info({_quoted(table.name)})")]
            if sorted(in_file) != sorted(columns):
                raise CopyMismatch(
                    f"{table.name}: the SQLite file has columns {sorted(in_file)}, "
                    f"the migrated database {sorted(columns)}"
                )
            names = sql.SQL(", ").join(map(sql.Identifier, columns))
            copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table.name), names)
            reader = lite.execute(
                f"SELECT {', '.join(map(_quoted, columns))} FROM {_quoted(table.name)}"
            )
            with conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
                while batch := reader.fetchmany(BATCH):
                    for row in batch:
                        copy.write_row(row)
    copy_s = round(time.perf_counter() - started, 1)
    for sequence, table_name, column in conn.execute(OWNED_SEQUENCES).fetchall():
        conn.execute(
            sql.SQL(
                "SELECT setval({}::regclass, coalesce(max({}), 1), max({}) IS NOT NULL) FROM {}"
            ).format(
                sql.Literal(sequence),
                sql.Identifier(column),
                sql.Identifier(column),
                sql.Identifier(table_name),
            )
        )
    conn.commit()
    return copy_s


def check_copy(
    conn: psycopg.Connection[Any], lite: sqlite3.Connection, names: list[str]
) -> dict[str, int]:
    """Every table's row count, and the triggers' results, equal in the file and the copy;
    returns the counts."""
    rows: dict[str, int] = {}
    for name in names:
        counted = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))
        copied = conn.execute(counted).fetchone()
        in_file = lite.execute(f"SELECT count(*) FROM {_quoted(name)}").fetchone()[0]
        if copied is None or copied[0] != in_file:
            raise CopyMismatch(f"{name}: {in_file:,} rows in the SQLite file, {copied} copied")
        rows[name] = in_file
    for query in BALANCES:
        theirs = [tuple(row) for row in lite.execute(query)]
        ours = [tuple(row) for row in conn.execute(query).fetchall()]
        if ours != theirs:
            differ = [(a, b) for a, b in zip(theirs, ours, strict=False) if a != b][:3]
            raise CopyMismatch(f"{query!r} differs (file, copy): {differ or 'in length'}")
    drift = [row[0] for row in conn.execute(JOURNAL_DRIFT).fetchall()]
    if drift:
        raise CopyMismatch(f"accounts {drift} do not equal the sums of their journal lines")
    return rows


def _quoted(name: str) -> str:
    """An SQLite identifier."""
    return '"' + name.replace('"', '""') + '"'
