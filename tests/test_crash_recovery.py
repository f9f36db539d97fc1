"""kill -9 loop: a writer process is killed at random moments; the SQLite file must stay sound.

Each round starts a writer (``tests.hammer.crash_writer``) that loops reserve / capture / release /
grant with unique keys on one account, waits until it has committed its first call, lets it run a
random 50-400 ms more and kills it with SIGKILL, wherever it is (mid-transaction, mid-commit,
mid-checkpoint). After each kill: ``PRAGMA integrity_check`` is ``ok``, no foreign key dangles,
``verify()`` finds nothing, and every call the writer saw return is in the database (its key is
stored). At the end time jumps two days ahead, the sweeper expires what the killed writers left
pending (and the grants that expired), and every hold has ended in exactly one terminal state.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import db
from ledger.amounts import credits
from ledger.schema import grants, holds, idempotency_keys
from ledger.service import Ledger
from tests.conftest import PRICES, ROOT, seed
from tests.hammer import HANG_GUARD_S

pytestmark = pytest.mark.slow

KILLS = 12
SEED = 20260310
WRITER = (
    "import sys; from tests.hammer import crash_writer; "
    "crash_writer(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))"
)


def _sqlite_checks(path: Path) -> tuple[list[tuple[str]], list[tuple[object, ...]]]:
    """``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check`` from a fresh connection."""
    conn = sqlite3.connect(path)
    try:
        return (
            conn.execute("PRAGMA integrity_check").fetchall(),
            conn.execute("PRAGMA foreign_key_check").fetchall(),
        )
    finally:
        conn.close()


def _stored_keys(book: Ledger) -> set[tuple[str, str]]:
    with db.read_only_connection(book.engine) as conn:
        query = sa.select(idempotency_keys.c.scope, idempotency_keys.c.key)
        return {(row.scope, row.key) for row in conn.execute(query)}


def _run_and_kill(url: str, account_id: int, user_id: int, n: int, rng: random.Random) -> list[str]:
    """One writer, killed with SIGKILL a random 50-400 ms after its first commit; its stdout."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(account_id), str(user_id), f"kill{n}", str(n)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    guard = threading.Timer(HANG_GUARD_S, writer.kill)  # a hang guard, not a time limit
    guard.start()
    assert writer.stdout is not None
    lines = []
    for line in writer.stdout:
        lines.append(line)
        if line.strip() == "ready":
            break
    if not lines or lines[-1].strip() != "ready":
        guard.cancel()
        _out, err = writer.communicate()
        pytest.fail(f"writer {n} never committed a call (exit {writer.returncode}):\n{err}")
    time.sleep(rng.uniform(0.05, 0.4))
    writer.send_signal(signal.SIGKILL)
    out, err = writer.communicate()
    guard.cancel()
    # Still running when killed: it did not stop on an error of its own ("database is locked"...).
    assert writer.returncode == -signal.SIGKILL, f"writer {n} exited by itself:\n{err}"
    return lines + out.splitlines()


def test_kill_9_loop_leaves_a_sound_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    book = Ledger.open(url)
    book.import_prices(PRICES)
    s = seed(book, credits(5000))
    book.close()
    rng = random.Random(SEED)

    answered: set[tuple[str, str]] = set()
    for n in range(KILLS):
        lines = _run_and_kill(url, s.account_id, s.member_id, n, rng)
        words = [line.split() for line in lines]
        answered |= {(w[1], w[2]) for w in words if len(w) == 3 and w[0] == "done"}

        integrity, dangling = _sqlite_checks(path)
        assert integrity == [("ok",)], f"after kill {n}"
        assert dangling == [], f"after kill {n}"
        book = Ledger.open(url, migrate=False)
        try:
            assert book.verify() == [], f"after kill {n}"
            missing = answered - _stored_keys(book)
            assert missing == set(), f"after kill {n}: calls answered but not in the database"
        finally:
            book.close()

    # Two days on, past every hold's TTL and every grant's expiry: sweep until nothing is due.
    future = datetime.now(UTC) + timedelta(days=2)
    book = Ledger(db.create_engine(url), clock=lambda: future)
    try:
        with db.read_only_connection(book.engine) as conn:
            left_pending = conn.execute(
                sa.select(sa.func.count()).where(holds.c.status == "pending")
            ).scalar_one()
        expired = 0
        for _ in range(100):
            report = book.sweep()
            expired += report.holds_expired
            if report.accounts_swept == 0:
                break
        assert expired == left_pending

        with db.read_only_connection(book.engine) as conn:
            rows = conn.execute(sa.select(holds)).all()
            unspent_expired = conn.execute(
                sa.select(sa.func.count()).where(
                    grants.c.expires_at <= future, grants.c.remaining > 0
                )
            ).scalar_one()
        statuses = Counter(row.status for row in rows)
        assert set(statuses) <= {"captured", "released", "expired"}, statuses
        assert all(row.resolved_at is not None for row in rows)
        assert statuses["expired"] == left_pending
        assert unspent_expired == 0  # nothing is held any more, so expired grants keep nothing
        balance = book.balance(s.account_id)
        assert balance.held == 0
        assert balance.available >= 0
        assert book.verify() == []
        assert _sqlite_checks(path) == ([("ok",)], [])
        assert len(answered) >= KILLS  # every writer committed at least once before its kill
        print(f"\n{len(answered)} calls answered over {KILLS} kills; holds {dict(statuses)}")
    finally:
        book.close()
