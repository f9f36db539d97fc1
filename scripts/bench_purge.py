#!/usr/bin/env python3
"""Benchmark usage retention on PostgreSQL: ``workbench purge`` over many usage rows, and what it
costs the analytics mirror.

    .venv/bin/python -m scripts.bench_purge --rows 1000000 --url postgresql://postgres@host/db

A fresh database ``bench_<random>`` is created on the server ``--url`` names (and dropped
afterwards), both schemas migrated, one workspace with 40 users, and ``--rows`` usage rows
inserted in one statement (``generate_series``), spread evenly over the last 400 days; they have
no holds (the purge never needs one). Then, timed: the first mirror sync (``fill_s``), a dry run
(``dry_run_s``), the purge with ``--days`` kept (``purge_s``, ``rows_purged``, ``rows_per_s``; at
``--batch-size`` rows a transaction), the next mirror sync, which takes in the purged days
(``catch_up_s``), a new mirror filled afterwards (``fresh_fill_s``) and a second purge, which finds
nothing (``second_purge_s``). ``totals_equal``: the whole-day daily rollup of both mirrors equals
the one before the purge. The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from ledger import db
from ledger.service import Ledger
from workbench.analytics import mirror
from workbench.db.migrate import migrate_all
from workbench.retention.policy import Policy
from workbench.retention.purge import run

SPAN_DAYS = 400
USERS = 40


def _insert(engine: sa.Engine, rows: int, now: datetime) -> None:
    book = Ledger(engine)
    place = book.create_workspace("bench", "Bench")
    first = book.create_user("bench-user-00").id
    for n in range(1, USERS):
        book.create_user(f"bench-user-{n:02d}")
    step = SPAN_DAYS * 86_400 / rows
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO usage_records (created_at, user_id, workspace_id, account_id, "
                "feature_key, operation_type, model, provider, status, input_tokens, "
                "output_tokens, credits, usd_cost_nanos, latency_ms) "
                "SELECT :now - g * make_interval(secs => :step), :first + g % :users, :ws, :acct, "
                "'ai_text_chat', 'text_chat', "
                "CASE WHEN g % 3 = 0 THEN 'demo/chat' ELSE 'openai/gpt-4o-mini' END, 'demo', "
                "CASE WHEN g % 50 = 0 THEN 'error' ELSE 'ok' END, g % 900, g % 400, g % 100000, "
                "CASE WHEN g % 5 = 0 THEN NULL ELSE g % 7000 END, 100 + g % 3000 "
                "FROM generate_series(1, :rows) g"
            ),
            {
                "now": now,
                "step": step,
                "first": first,
                "users": USERS,
                "ws": place.id,
                "acct": place.account_id,
                "rows": rows,
            },
        )


def _daily(path: Path) -> list[Any]:
    with duckdb.connect(str(path)) as con:
        return con.execute("SELECT * EXCLUDE (day), day FROM usage_daily ORDER BY ALL").fetchall()


def _timed(work: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, round(time.perf_counter() - started, 3)


def bench(url: str, rows: int, days: int, batch_size: int, folder: Path) -> dict[str, Any]:
    engine = db.create_engine(url)
    try:
        migrate_all(engine)
        now = datetime.now(UTC)
        _insert(engine, rows, now)
        old, fresh, images = folder / "old.duckdb", folder / "fresh.duckdb", folder / "images"
        _, fill = _timed(lambda: mirror.sync(engine, old))
        before = _daily(old)
        policy = Policy(usage_days=days)
        _, dry = _timed(lambda: run(engine, images, policy, now, dry_run=True))
        done, purge = _timed(
            lambda: run(engine, images, policy, now, dry_run=False, batch_size=batch_size)
        )
        purged = done.removed.usage.rows if done.removed.usage else 0
        _, catch_up = _timed(lambda: mirror.sync(engine, old))
        _, fresh_fill = _timed(lambda: mirror.sync(engine, fresh))
        _, again = _timed(lambda: run(engine, images, policy, now, dry_run=False))
        return {
            "rows": rows,
            "days_kept": days,
            "batch_size": batch_size,
            "fill_s": fill,
            "dry_run_s": dry,
            "purge_s": purge,
            "rows_purged": purged,
            "rows_per_s": round(purged / purge) if purge else None,
            "catch_up_s": catch_up,
            "fresh_fill_s": fresh_fill,
            "second_purge_s": again,
            "totals_equal": _daily(old) == before == _daily(fresh),
        }
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, required=True, help="usage rows to insert")
    parser.add_argument("--url", required=True, help="a PostgreSQL server's URL")
    parser.add_argument("--days", type=int, default=300, help="days of usage kept")
    parser.add_argument("--batch-size", type=int, default=1000, help="rows per transaction")
    args = parser.parse_args(argv)
    server = sa.make_url(args.url)
    if server.get_backend_name() != "postgresql":
        parser.error("--url must name a PostgreSQL server (the rows are made by generate_series)")
    server = server.set(drivername="postgresql+psycopg")
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        with tempfile.TemporaryDirectory(prefix="bench-purge-") as folder:
            result = bench(url, args.rows, args.days, args.batch_size, Path(folder))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    print(json.dumps(result))
    return 0 if result["totals_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
