"""The mirror's side of usage retention: the days a purge changed, taken in from the database.

``workbench purge`` deletes old usage rows from the ledger's database and, in the same transaction,
adds their sums to ``purged_usage_daily`` (per UTC day and the rollup's key), stamping the days it
touched with the batch's number (``generation``, counted in ``usage_purge_state``). A mirror
remembers the last number it took in. When the database's is higher, each day stamped since is
re-read here, from one snapshot of the database:

- the mirror's raw copies of that day's rows that are no longer in the database go (retention
  reaches the mirror too: it holds no row the database has purged);
- the day's rollup becomes the purged sums plus the rollup of the rows still kept.

A day's rollup therefore stays the sum of every row the day ever had, whichever mirror reads it:
one that copied the rows before they went, one that was behind, or a new one filled after the
purge (which never sees the rows and takes the sums). Whole-UTC-day analytics read the rollup and
so read the same before and after a purge; anything that reads raw rows (part days, hours, other
time zones, percentiles, single calls) sees only the rows still kept.

Rows are stamped per batch, and batches queue on the one ``usage_purge_state`` row, so they commit
in the order of their numbers: a mirror that has taken in number N has seen every batch up to N.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, Final

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger import db
from ledger.schema import (
    PURGED_USAGE_MEASURES,
    purged_usage_daily,
    usage_purge_state,
    usage_records,
)
from workbench.analytics import rollups

DDL: Final = "CREATE TABLE IF NOT EXISTS purge_sync (generation BIGINT NOT NULL)"
# Ids and days per statement sent to the database.
CHUNK: Final = 1000

_DAY_OF: Final = "CAST(timezone('UTC', created_at) AS DATE)"
_TOTAL_COLUMNS: Final = (*rollups.KEY, *PURGED_USAGE_MEASURES)
_TOTALS_SCHEMA: Final = pa.schema(
    [
        ("day", pa.date32()),
        ("workspace_id", pa.int32()),
        ("user_id", pa.int32()),
        *((name, pa.string()) for name in rollups.KEY[3:]),
        *((name, pa.int64()) for name in PURGED_USAGE_MEASURES),
    ]
)


def catch_up(engine: Engine, con: Any) -> int:
    """Take in the days purges changed since this mirror last looked; how many days were re-read
    (0, after one indexed read, when no purge has run since)."""
    applied = _applied(con)
    with db.read_only_connection(engine) as conn:
        if _generation(conn) <= applied:
            return 0
    with _snapshot(engine) as conn:
        current = _generation(conn)
        days = sorted(
            conn.execute(
                sa.select(purged_usage_daily.c.day)
                .where(purged_usage_daily.c.generation > applied)
                .distinct()
            ).scalars()
        )
        totals = _totals(conn, days)
        kept = _still_kept(conn, _mirrored_ids(con, days))
    _replace_days(con, days, totals, kept, current)
    return len(days)


def _applied(con: Any) -> int:
    # fetchall: a result left unfinished would refuse the registrations that follow.
    ((value,),) = con.execute("SELECT max(generation) FROM purge_sync").fetchall()
    return int(value or 0)


def _generation(conn: Connection) -> int:
    value = conn.execute(
        sa.select(usage_purge_state.c.generation).where(usage_purge_state.c.id == 1)
    ).scalar()
    return int(value or 0)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read transaction whose statements all see one state of the database: REPEATABLE READ on
    PostgreSQL (its default gives each statement its own), a deferred read transaction on SQLite
    (WAL keeps the snapshot its first read takes)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn.execution_options(**{db.SQLITE_BEGIN: "DEFERRED"})
        with conn.begin():
            yield conn


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _totals(conn: Connection, days: list[date]) -> Any:
    rows: list[Any] = []
    for chunk in _chunks(days):
        rows += conn.execute(
            sa.select(*(purged_usage_daily.c[name] for name in _TOTAL_COLUMNS)).where(
                purged_usage_daily.c.day.in_(chunk)
            )
        ).all()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in _TOTAL_COLUMNS]
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, _TOTALS_SCHEMA, strict=True)],
        schema=_TOTALS_SCHEMA,
    )


def _mirrored_ids(con: Any, days: list[date]) -> list[int]:
    con.register("changed_days", pa.table({"day": pa.array(days, pa.date32())}))
    try:
        rows = con.execute(
            f"SELECT id FROM usage WHERE {_DAY_OF} IN (SELECT day FROM changed_days) ORDER BY id"
        ).fetchall()
    finally:
        con.unregister("changed_days")
    return [int(r[0]) for r in rows]


def _still_kept(conn: Connection, ids: list[int]) -> list[int]:
    """Which of ``ids`` the database still has (primary-key reads, a chunk at a time)."""
    kept: list[int] = []
    for chunk in _chunks(ids):
        kept += conn.execute(
            sa.select(usage_records.c.id).where(usage_records.c.id.in_(chunk))
        ).scalars()
    return kept


def _replace_days(
    con: Any, days: list[date], totals: Any, kept: list[int], generation: int
) -> None:
    """In one DuckDB transaction: drop the purged raw copies of ``days``, rebuild their rollup
    from the kept rows and the purged sums, and remember ``generation``."""
    con.begin()
    try:
        con.register("changed_days", pa.table({"day": pa.array(days, pa.date32())}))
        con.register("kept_ids", pa.table({"id": pa.array(kept, pa.int64())}))
        con.register("purged_totals", totals)
        on_changed_days = f"{_DAY_OF} IN (SELECT day FROM changed_days)"
        con.execute(
            f"DELETE FROM usage WHERE {on_changed_days} AND id NOT IN (SELECT id FROM kept_ids)"
        )
        con.execute(f"DELETE FROM {rollups.TABLE} WHERE day IN (SELECT day FROM changed_days)")
        rollups.add(con, f"(SELECT * FROM usage WHERE {on_changed_days})")
        rollups.add_totals(con, "purged_totals")
        con.execute("DELETE FROM purge_sync")
        con.execute("INSERT INTO purge_sync VALUES (?)", [generation])
        for name in ("changed_days", "kept_ids", "purged_totals"):
            con.unregister(name)
        con.commit()
    except BaseException:
        con.rollback()
        raise
