"""The sign-in throttle holds across app processes on one database: guesses at one username sent
at once from several processes reach the password check no more than the limit's five times, and
the lock they start refuses the right password in every process."""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.service import Ledger
from workbench.auth.local_logins import LocalLogins, Locked
from workbench.auth.throttle import SignInThrottle
from workbench.config import Settings
from workbench.db import schema as app_schema

# Spawned processes import this module to find their target: it imports only the ledger and
# workbench.auth (not tests.conftest, whose imports pull in litellm), so each starts quickly.

PROCESSES = 4
GUESSES_EACH = 4
HANG_GUARD_S = 120.0
PASSWORD = "the right password"


def guess_many(url: str, username: str, worker: int, barrier: Any, results: Any) -> None:
    """One app process: its own engine on the shared database, ``GUESSES_EACH`` wrong passwords
    for ``username`` from its own address, all processes released together. Reports each outcome's
    class name, or ``("unexpected", traceback)``."""
    outcomes: list[str] = []
    try:
        book = Ledger.open(url, migrate=False)
        try:
            throttle = SignInThrottle.from_settings(book.engine, Settings())
            logins = LocalLogins(book.engine, throttle)
            barrier.wait(timeout=HANG_GUARD_S)
            for n in range(GUESSES_EACH):
                outcome = logins.sign_in(book, username, f"wrong guess {n}", f"192.0.2.{worker}")
                outcomes.append(type(outcome).__name__)
        finally:
            book.close()
    except Exception as error:
        outcomes.append("unexpected: " + "".join(traceback.format_exception(error)))
        barrier.abort()
    results.put((worker, outcomes))


def run_processes(url: str, username: str) -> list[str]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=guess_many, args=(url, username, n + 1, barrier, results))
        for n in range(PROCESSES)
    ]
    for p in processes:
        p.start()
    outcomes: list[str] = []
    reported = set()
    for _ in processes:
        try:
            worker, mine = results.get(timeout=HANG_GUARD_S)
        except queue.Empty:
            outcomes.append("unexpected: a process never reported")
            break
        reported.add(worker)
        outcomes += mine
    for p in processes:
        p.join(HANG_GUARD_S)
        if p.exitcode != 0:
            outcomes.append(f"unexpected: process exit code {p.exitcode}")
    assert reported == set(range(1, PROCESSES + 1))
    return outcomes


@pytest.fixture
def shared(db_url: str) -> Iterator[tuple[Ledger, str, str]]:
    """A migrated database with one member whose password is ``PASSWORD``: the ledger, its URL
    and the member's username."""
    from tests.conftest import seed  # here, not at import: see the note at the top

    book = Ledger.open(db_url)
    app_schema.migrate(book.engine)
    s = seed(book, 0)
    LocalLogins(book.engine).set_password(s.member_id, PASSWORD)
    yield book, db_url, book.user_by_id(s.member_id).username
    book.close()


def test_parallel_guesses_from_several_processes_stop_at_the_limit(
    shared: tuple[Ledger, str, str],
) -> None:
    book, url, username = shared
    outcomes = run_processes(url, username)

    assert [o for o in outcomes if o.startswith("unexpected")] == []
    kinds = Counter(outcomes)
    assert set(kinds) <= {"Failed", "Locked"} and kinds.total() == PROCESSES * GUESSES_EACH
    with book.engine.connect() as conn:
        checked = conn.execute(sa.select(app_schema.sign_in_failures.c.username)).scalars().all()
        locks = conn.execute(sa.select(app_schema.sign_in_locks)).all()
    # Each row is an attempt that reached the password check: exactly the limit, one lock.
    assert checked == [username] * 5
    assert [(lock.scope, lock.key) for lock in locks] == [("username", username)]
    assert kinds["Failed"] <= 4

    logins = LocalLogins(book.engine, SignInThrottle.from_settings(book.engine, Settings()))
    assert isinstance(logins.sign_in(book, username, PASSWORD, "198.51.100.1"), Locked)
