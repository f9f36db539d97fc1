"""Connections to the analytics mirror: one DuckDB instance per file in this process, shared by
cursors (one per caller) while in use and for a few seconds after, then the file is closed, so
another process can open it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.analytics import mirror


def _other_process_opens(path: Path) -> bool:
    """Whether a separate process can open the file now (DuckDB locks it per process)."""
    done = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}).close()"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode == 0


def test_callers_share_one_instance_and_the_file_is_let_go_when_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror, "KEEP_OPEN_S", 0.2)
    path = tmp_path / "mirror.duckdb"
    with mirror.connect(path) as first:
        first.execute("CREATE TABLE t (x INTEGER)")
        first.execute("INSERT INTO t VALUES (1)")
        with mirror.connect(path) as second:  # its own cursor, the same database
            assert second is not first
            assert second.execute("SELECT count(*) FROM t").fetchone() == (1,)
        assert not _other_process_opens(path)  # in use here: locked for other processes
    time.sleep(1.0)  # idle past KEEP_OPEN_S: the instance is closed
    assert _other_process_opens(path)
    with mirror.connect(path) as again:  # and opened again on the next call
        assert again.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_a_caller_within_the_grace_period_reuses_the_open_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror, "KEEP_OPEN_S", 30.0)
    path = tmp_path / "mirror.duckdb"
    opened: list[Path] = []
    real_open = mirror._open
    monkeypatch.setattr(mirror, "_open", lambda p, t: opened.append(p) or real_open(p, t))
    for _ in range(5):
        with mirror.connect(path) as con:
            con.execute("SELECT 1")
    assert opened == [path]  # one instance for five callers
