"""Daily rollups of the usage mirror: one row per (UTC day, workspace, user, model, feature,
provider, status) with the sums the dashboards need.

The rollup is maintained incrementally by ``mirror.sync``, in the same DuckDB transaction that
inserts the new usage rows: the new batch alone is aggregated and *added* to the rollup
(``INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x``), so a whole day's rollup always equals
the sum of that day's mirrored rows. Money stays integer: micro-credits and nano-dollars.

Usage retention (``workbench.retention``) removes raw rows of old days from the database and keeps
their sums in the ledger's ``purged_usage_daily``, whose measures are these; the mirror then takes
a changed day's rollup from those sums and the rows still kept (``add_totals``,
``workbench.analytics.purged_days``), so a day's rollup always equals the sum of every row that
day ever had.
"""

from __future__ import annotations

from typing import Final

import duckdb

TABLE: Final = "usage_daily"

KEY: Final = ("day", "workspace_id", "user_id", "model", "feature_key", "provider", "status")

# Measure columns and how each is computed from raw usage rows.
MEASURES: Final = {
    "requests": "count(*)",
    "credits": "sum(credits)",
    "usd_cost_nanos": "coalesce(sum(usd_cost_nanos), 0)",
    "usd_cost_unknown": "count(*) FILTER (WHERE usd_cost_nanos IS NULL)",
    "input_tokens": "sum(input_tokens)",
    "output_tokens": "sum(output_tokens)",
    "cached_tokens": "sum(cached_tokens)",
    "images": "sum(images)",
    "latency_ms_sum": "coalesce(sum(latency_ms), 0)",
    "latency_count": "count(latency_ms)",
    # The credits of the rows whose USD cost is known: the margin's other half.
    "credits_costed": "coalesce(sum(credits) FILTER (WHERE usd_cost_nanos IS NOT NULL), 0)",
}

DDL: Final = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    day DATE NOT NULL,
    workspace_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    model VARCHAR NOT NULL,
    feature_key VARCHAR NOT NULL,
    provider VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    {", ".join(f"{name} BIGINT NOT NULL" for name in MEASURES)},
    PRIMARY KEY ({", ".join(KEY)})
)
"""


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Create the rollup table if it is missing."""
    con.execute(DDL)


# Every INSERT names its columns: nothing depends on the order a file's table has them in.
_COLUMNS: Final = ", ".join([*KEY, *MEASURES])
_ADD: Final = ", ".join(f"{name} = {TABLE}.{name} + excluded.{name}" for name in MEASURES)


def upgrade(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild, from the mirrored rows, a rollup made before its newest measure existed (such a
    file predates usage retention, so its raw rows are complete)."""
    ((present,),) = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_name = ?",
        [TABLE, "credits_costed"],
    ).fetchall()
    if present:
        return
    con.begin()
    try:
        con.execute(f"DROP TABLE {TABLE}")
        con.execute(DDL)
        add(con, "usage")
        con.commit()
    except BaseException:
        con.rollback()
        raise


def add(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Add the rows of ``source`` (a table, a registered Arrow view or a parenthesised query shaped
    like the mirror's ``usage``) to the rollup. Call inside the transaction that inserts those
    rows."""
    day = "CAST(timezone('UTC', created_at) AS DATE)"
    select_key = ", ".join([f"{day} AS day", *KEY[1:]])
    measures = ", ".join(f"{expr} AS {name}" for name, expr in MEASURES.items())
    con.execute(
        f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT {select_key}, {measures} FROM {source} "
        f"GROUP BY ALL ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {_ADD}"
    )


def add_totals(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Add ``source``'s rows, already daily sums with the rollup's key and measures as columns (the
    ledger's ``purged_usage_daily``), to the rollup."""
    con.execute(
        f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {source} "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {_ADD}"
    )
