"""A backup of the ledger, restored into a new database, is the same books: `workbench ledger
verify` finds them balanced, and every balance, journal line and usage row reads the same.
Backups are taken as docs/operations.md says, with the databases' own tools: `pg_dump` /
`pg_restore` on PostgreSQL, SQLite's online `.backup` on the embedded file. The restored copy's
verify is not a formality: a balance changed behind the journal's back is caught there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import (
    POSTGRES_URL,
    ROOT,
    drop_postgres_database,
    new_postgres_database,
)

# What must read the same on the original and the restored copy.
READS = (
    ("ledger", "status"),
    ("ledger", "balance", "demo"),
    ("ledger", "history", "demo"),
    ("gateway", "usage", "--workspace", "demo"),
)


def run_workbench(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``workbench ARGS`` against ``url``, as a person's shell runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env["WORKBENCH_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def workbench(url: str, *args: str) -> str:
    """``workbench ARGS``'s output; it must succeed."""
    done = run_workbench(url, *args)
    assert done.returncode == 0, f"workbench {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def tool(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"


def fill(url: str) -> dict[tuple[str, ...], str]:
    """Books with grants (the demo's, a paid top-up) and two billed chat calls (holds reserved
    and captured, usage rows); returns what ``READS`` show."""
    workbench(url, "ledger", "seed")
    workbench(url, "ledger", "grant", "demo", "1,250.5", "--kind", "paid", "--key", "bk-1")
    workbench(url, "gateway", "chat", "Write two lines about backups", "--model", "demo/chat")
    workbench(url, "gateway", "chat", "And one about restores", "--model", "demo/chat")
    shown = {read: workbench(url, *read) for read in READS}
    assert shown[("gateway", "usage", "--workspace", "demo")].count("demo/chat") == 2
    assert "+1,250.5" in shown[("ledger", "history", "demo")]
    return shown


def assert_same_books(original: dict[tuple[str, ...], str], restored_url: str) -> None:
    assert "the books balance" in workbench(restored_url, "ledger", "verify")
    for read, shown in original.items():
        again = workbench(restored_url, *read)
        if read == ("ledger", "status"):  # names its own database URL on the first line
            assert again.split("\n", 1)[1] == shown.split("\n", 1)[1]
        else:
            assert again == shown, read


def assert_tampering_is_caught(restored_url: str) -> None:
    engine = sa.create_engine(restored_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE accounts SET balance = balance + 1"))
    engine.dispose()
    done = run_workbench(restored_url, "ledger", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "mismatch" in done.stdout + done.stderr


@pytest.fixture
def two_postgres_databases() -> Iterator[tuple[str, str]]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need WORKBENCH_TEST_POSTGRES_URL")
    first, second = new_postgres_database(), new_postgres_database()
    yield first, second
    drop_postgres_database(first)
    drop_postgres_database(second)


def libpq(url: str) -> str:
    """The SQLAlchemy URL as the PostgreSQL tools take it (no ``+driver``)."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.postgres
def test_a_pg_dump_restored_into_a_new_database_is_the_same_books(
    two_postgres_databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = two_postgres_databases
    original = fill(source)
    dump = tmp_path / "workbench.dump"
    tool("pg_dump", "--format=custom", f"--file={dump}", libpq(source))
    tool("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq(target)}", str(dump))
    assert_same_books(original, target)
    assert_tampering_is_caught(target)


def test_an_online_sqlite_backup_copied_into_place_is_the_same_books(tmp_path: Path) -> None:
    sqlite3 = shutil.which("sqlite3")
    assert sqlite3, "the sqlite3 command is needed (Debian: apt-get install sqlite3; .ci/run does)"
    live = tmp_path / "workbench.db"
    original = fill(f"sqlite:///{live}")
    backup = tmp_path / "backup" / "workbench.db"
    backup.parent.mkdir()
    tool(sqlite3, str(live), f".backup '{backup}'")
    restored = tmp_path / "restored" / "workbench.db"
    restored.parent.mkdir()
    shutil.copyfile(backup, restored)  # restoring: the file copied into place, the app stopped
    assert_same_books(original, f"sqlite:///{restored}")
    assert_tampering_is_caught(f"sqlite:///{restored}")
