"""The per-minute and concurrency rate limits hold exactly across app processes on one database."""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.amounts import credits
from ledger.errors import RateLimited
from ledger.ratelimits import RateLimits
from ledger.schema import holds
from ledger.service import Ledger

# Spawned processes import this module to find their target: it imports only the ledger (not
# tests.conftest, whose imports pull in litellm), so each process starts quickly.

PROCESSES = 4
CALLS_EACH = 8
HANG_GUARD_S = 120.0
WINDOW = timedelta(minutes=5)


def reserve_many(
    url: str,
    account_id: int,
    user_id: int,
    worker: int,
    limits: RateLimits,
    barrier: Any,
    results: Any,
) -> None:
    """One app process: its own ledger on the shared database, ``CALLS_EACH`` reserves with
    distinct keys for the same user, all processes released together. Reports each outcome as
    ``("ok", hold id)``, ``("RateLimited", limit)`` or ``("unexpected", traceback)``."""
    outcomes: list[tuple[str, Any]] = []
    try:
        book = Ledger.open(url, migrate=False)
        try:
            barrier.wait(timeout=HANG_GUARD_S)
            for n in range(CALLS_EACH):
                try:
                    outcome = book.reserve(
                        account_id,
                        user_id=user_id,
                        feature_key="ai_text_chat",
                        model="demo/chat",
                        amount=credits(1),
                        key=f"proc{worker}-call{n}",
                        limits=limits,
                    )
                except RateLimited as error:
                    outcomes.append(("RateLimited", error.limit))
                else:
                    outcomes.append(("ok", outcome.hold.id))
        finally:
            book.close()
    except Exception as error:
        outcomes.append(("unexpected", "".join(traceback.format_exception(error))))
        barrier.abort()
    results.put((worker, outcomes))


def run_processes(url: str, account_id: int, user_id: int, limits: RateLimits) -> list[Any]:
    """Every process's outcomes, flattened."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    processes = [
        ctx.Process(
            target=reserve_many, args=(url, account_id, user_id, n, limits, barrier, results)
        )
        for n in range(PROCESSES)
    ]
    for p in processes:
        p.start()
    outcomes: list[Any] = []
    reported = set()
    for _ in processes:
        try:
            worker, mine = results.get(timeout=HANG_GUARD_S)
        except queue.Empty:
            outcomes.append(("unexpected", "a process never reported"))
            break
        reported.add(worker)
        outcomes += mine
    for p in processes:
        p.join(HANG_GUARD_S)
        if p.exitcode != 0:
            outcomes.append(("unexpected", f"process exit code {p.exitcode}"))
    assert reported == set(range(PROCESSES))
    return outcomes


@pytest.fixture
def shared(db_url: str) -> Iterator[tuple[Ledger, str, int, int]]:
    """A migrated, priced database with one workspace (1,000 credits): the ledger, its URL, and
    the account and member every process reserves for."""
    from tests.conftest import PRICES, seed  # here, not at import: see the note at the top

    book = Ledger.open(db_url)
    book.import_prices(PRICES)
    s = seed(book, credits(1000))
    yield book, db_url, s.account_id, s.member_id
    book.close()


def user_holds(book: Ledger, user_id: int) -> list[Any]:
    with book.engine.connect() as conn:
        return list(conn.execute(sa.select(holds).where(holds.c.user_id == user_id)))


def test_the_per_minute_limit_holds_across_processes(
    shared: tuple[Ledger, str, int, int],
) -> None:
    book, url, account_id, user_id = shared
    limits = RateLimits(per_minute=10, concurrent=None, in_flight_window=WINDOW)

    outcomes = run_processes(url, account_id, user_id, limits)

    assert [o for o in outcomes if o[0] == "unexpected"] == []
    assert len(outcomes) == PROCESSES * CALLS_EACH
    kinds = Counter(o[0] if o[0] == "ok" else f"{o[0]}:{o[1]}" for o in outcomes)
    assert kinds == {"ok": 10, "RateLimited:per_minute": PROCESSES * CALLS_EACH - 10}
    made = user_holds(book, user_id)
    assert sorted(h.id for h in made) == sorted(o[1] for o in outcomes if o[0] == "ok")
    assert book.balance(account_id).held == credits(10)  # ten holds of one credit
    assert book.verify() == []


def test_the_concurrency_limit_holds_across_processes(
    shared: tuple[Ledger, str, int, int],
) -> None:
    book, url, account_id, user_id = shared
    limits = RateLimits(per_minute=None, concurrent=3, in_flight_window=WINDOW)

    outcomes = run_processes(url, account_id, user_id, limits)

    assert [o for o in outcomes if o[0] == "unexpected"] == []
    assert len(outcomes) == PROCESSES * CALLS_EACH
    kinds = Counter(o[0] if o[0] == "ok" else f"{o[0]}:{o[1]}" for o in outcomes)
    assert kinds == {"ok": 3, "RateLimited:concurrent": PROCESSES * CALLS_EACH - 3}
    made = user_holds(book, user_id)
    assert len(made) == 3 and {h.status for h in made} == {"pending"}
    assert book.balance(account_id).held == credits(3)
    assert book.verify() == []
