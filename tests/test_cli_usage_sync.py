"""``workbench usage sync``: fills this machine's analytics mirror from the database (for a replica
that has just started), then copies only what is new; a mirror it cannot write is one line on
stderr, status 2, and the database is untouched."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from tests.test_cli_ledger import db_file, workbench

__all__ = ["db_file"]


def usage_rows(db_file: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{db_file}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM usage_records")).scalar_one())
    finally:
        engine.dispose()


def mirrored_rows(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM usage").fetchone()
        assert row is not None
        return int(row[0])


def test_sync_fills_the_mirror_once_then_copies_only_what_is_new(
    db_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "replica-local" / "usage.duckdb"
    mirror.parent.mkdir()
    monkeypatch.setenv("WORKBENCH_ANALYTICS_MIRROR", str(mirror))
    monkeypatch.setenv("WORKBENCH_IMAGE_DIR", str(tmp_path / "images"))
    seeded = workbench(db_file, "usage", "seed", "--events", "300", "--days", "10", "--seed", "3")
    assert seeded.returncode == 0, seeded.stderr
    total = usage_rows(db_file)

    first = workbench(db_file, "usage", "sync")
    assert first.returncode == 0, first.stderr
    assert f"usage sync: {total:,} new rows copied into {mirror}" in first.stdout
    assert mirrored_rows(mirror) == total
    assert not (tmp_path / "analytics.duckdb").exists()

    again = workbench(db_file, "usage", "sync")
    assert again.returncode == 0, again.stderr
    assert "usage sync: 0 new rows copied" in again.stdout

    more = workbench(db_file, "usage", "seed", "--events", "50", "--days", "10", "--seed", "4")
    assert more.returncode == 0, more.stderr
    added = usage_rows(db_file) - total
    third = workbench(db_file, "usage", "sync")
    assert f"usage sync: {added:,} new rows copied" in third.stdout
    assert mirrored_rows(mirror) == total + added


def test_a_mirror_it_cannot_write_is_one_line_and_status_2(
    db_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("WORKBENCH_ANALYTICS_MIRROR", str(blocker / "usage.duckdb"))
    seeded = workbench(db_file, "usage", "seed", "--events", "20", "--days", "2")
    assert seeded.returncode == 0, seeded.stderr
    before = usage_rows(db_file)

    failed = workbench(db_file, "usage", "sync")
    assert failed.returncode == 2
    assert failed.stderr.startswith("workbench: error:")
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    assert blocker.read_text() == "not a folder"
    assert usage_rows(db_file) == before
