"""The app benchmark on PostgreSQL (scripts/bench_app.py ``--postgres-url``) in the small mode:
one JSON object of the same shape as on SQLite, with ``backend: "postgresql"`` and a figure for
every page; the copy on the server holds every row of the SQLite cache entry and the same
balances; each run's own database is gone afterwards (only the kept copy stays); a second run
reuses the copy; a copy whose books do not add up is refused; a URL that is not PostgreSQL's, or
a server out of reach, is refused before anything is made; what a killed run left, the next run
drops. No figure of time is compared with a
number.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from scripts.bench_app_pg_leftovers import drop_abandoned
from scripts.bench_app_postgres import PREFIX, RUN_PREFIX, Server
from tests.conftest import POSTGRES_URL
from tests.test_bench_app import PAGES, ROWS, SMALL, bench, last_json

pytestmark = pytest.mark.postgres

# The JSON's keys on SQLite (tests/test_bench_app.py's runs): the same on PostgreSQL.
KEYS = {
    "startup_s",
    "bare_startup_s",
    "startup_over_bare_s",
    "startup_parts_s",
    "import_s",
    "page_ms",
    "slowest_page",
    "bare_page_ms",
    "page_first_ms",
    "page_sent",
    "usage_requests_shown",
    "database",
    "samples",
    "targets",
    "targets_met",
    "usage_rows",
    "runs",
    "starts",
    "streamlit_version",
    "elapsed_s",
    "loadavg_1m",
    "cpus",
}


def admin() -> psycopg.Connection[Any]:
    url = sa.make_url(POSTGRES_URL).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def on_server(database: str | None = None) -> str:
    url = sa.make_url(POSTGRES_URL).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def bench_databases() -> set[str]:
    """The benchmark's databases on the test server (kept copies, runs, copies in the making)."""
    with closing(admin()) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (PREFIX,)
        ).fetchall()
    return {row[0] for row in rows}


def drop(name: str) -> None:
    with closing(admin()) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def sqlite_counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names
        }


def count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def balances_in_file(path: Path) -> list[tuple[int, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return [tuple(row) for row in conn.execute(BALANCES)]


BALANCES = "SELECT id, balance, held, debt FROM accounts ORDER BY id"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-app-pg-cache")


@pytest.fixture(scope="module")
def first(cache: Path) -> Iterator[tuple[dict[str, Any], set[str], set[str]]]:
    """The first small run: its JSON, and the benchmark's databases before and after it. The
    copy it keeps on the server is dropped after the module."""
    before = bench_databases()
    result = last_json(bench(*SMALL, "--postgres-url", POSTGRES_URL, "--cache-dir", str(cache)))
    try:
        yield result, before, bench_databases()
    finally:
        drop(result["database"]["postgres_cache"])


def test_a_small_run_on_postgresql_measures_every_page(
    first: tuple[dict[str, Any], set[str], set[str]],
) -> None:
    result, _, _ = first
    assert set(result) == KEYS, "the JSON's shape is the same on both backends"
    assert set(result["page_ms"]) == set(result["page_first_ms"]) == PAGES
    assert set(result["page_sent"]) == PAGES
    figures = [result["startup_s"], *result["page_ms"].values(), *result["page_first_ms"].values()]
    assert all(isinstance(f, int | float) and f > 0 for f in figures), figures
    assert int(result["usage_requests_shown"].replace(",", "")) > 0

    database = result["database"]
    assert database["backend"] == "postgresql"
    assert (database["usage_rows"], database["seeded_by"]) == (ROWS, "ledger")
    assert (database["reused_cache"], database["sqlite_reused_cache"]) == (False, False)
    assert database["journal_lines"] > ROWS
    assert isinstance(database["copy_s"], int | float) and database["copy_s"] >= 0
    assert database["postgres_cache"] == f"{PREFIX}{database['cache_key']}"


def test_the_copy_holds_every_row_and_balance_of_the_sqlite_entry(
    first: tuple[dict[str, Any], set[str], set[str]], cache: Path
) -> None:
    database = first[0]["database"]
    entry = cache / database["cache_key"] / "workbench.db"
    in_file = sqlite_counts(entry)
    assert in_file["usage_records"] == ROWS
    assert database["table_rows"] == in_file

    with closing(psycopg.connect(on_server(database["postgres_cache"]))) as conn:
        copied = {name: count(conn, name) for name in in_file}
        balances = [tuple(row) for row in conn.execute(BALANCES).fetchall()]
    assert copied == in_file
    assert balances == balances_in_file(entry), "copied with triggers off: no balance doubled"


def test_no_run_database_is_left_on_the_server(
    first: tuple[dict[str, Any], set[str], set[str]],
) -> None:
    result, before, after = first
    database = result["database"]
    assert database["run_database"] not in after
    assert database["postgres_cache"] in after
    # Only the kept copy may be new (it was there already if a run of this code had kept it).
    assert after - before <= {database["postgres_cache"]}


def test_a_second_run_gets_a_fresh_copy_of_the_kept_one(
    first: tuple[dict[str, Any], set[str], set[str]], cache: Path
) -> None:
    before = bench_databases()
    second = last_json(bench(*SMALL, "--postgres-url", POSTGRES_URL, "--cache-dir", str(cache)))
    database = second["database"]
    assert (database["reused_cache"], database["sqlite_reused_cache"]) == (True, True)
    assert database["postgres_cache"] == first[0]["database"]["postgres_cache"]
    assert database["copied_at"] == first[0]["database"]["copied_at"]
    assert database["run_database"] != first[0]["database"]["run_database"]
    assert set(second["page_ms"]) == PAGES
    assert bench_databases() == before


def test_a_copy_whose_books_do_not_add_up_is_refused(
    first: tuple[dict[str, Any], set[str], set[str]], cache: Path, tmp_path: Path
) -> None:
    entry = cache / first[0]["database"]["cache_key"] / "workbench.db"
    tampered = tmp_path / "tampered.db"
    shutil.copyfile(entry, tampered)
    with closing(sqlite3.connect(tampered)) as conn, conn:
        conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
    before = bench_databases()
    done = bench(*SMALL, "--from-database", str(tampered), "--postgres-url", POSTGRES_URL)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "the PostgreSQL copy does not hold what the SQLite file holds" in done.stderr
    assert "sums of their journal lines" in done.stderr
    assert done.stdout == ""
    assert bench_databases() == before, "the refused copy was dropped"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://postgres@127.0.0.1:1/test", "cannot reach the PostgreSQL server"),
        ("sqlite:///workbench.db", "must be a postgresql:// URL"),
        ("mysql://root@127.0.0.1/test", "must be a postgresql:// URL"),
        ("no url at all", "is not a database URL"),
    ],
)
def test_a_bad_url_is_refused_before_anything_is_made(tmp_path: Path, url: str, says: str) -> None:
    cache = tmp_path / "cache"
    before = bench_databases()
    done = bench("--usage-rows", "10", "--postgres-url", url, "--cache-dir", str(cache))
    assert done.returncode == 2, done
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""
    assert not cache.exists(), "nothing may be seeded for a refused run"
    assert bench_databases() == before


def test_a_killed_runs_database_is_dropped_by_the_next_run(tmp_path: Path) -> None:
    """Three run databases as SIGKILL leaves them: one made by a process of this machine that is
    gone (dropped), one by a process still running (this one: kept), one by another machine
    (kept: the server may be shared)."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    here = socket.gethostname()
    made = {
        f"{RUN_PREFIX}test_gone": {"host": here, "pid": int(gone.stdout)},
        f"{RUN_PREFIX}test_alive": {"host": here, "pid": os.getpid()},
        f"{RUN_PREFIX}test_elsewhere": {"host": f"not-{here}", "pid": int(gone.stdout)},
    }
    with closing(admin()) as conn:
        for name, owner in made.items():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(name), sql.Literal(json.dumps(owner))
                )
            )
    try:
        dropped = drop_abandoned(Server(POSTGRES_URL), (RUN_PREFIX,))
        assert dropped == [f"{RUN_PREFIX}test_gone"]
        left = bench_databases()
        assert f"{RUN_PREFIX}test_gone" not in left
        assert {f"{RUN_PREFIX}test_alive", f"{RUN_PREFIX}test_elsewhere"} <= left
    finally:
        for name in made:
            drop(name)
