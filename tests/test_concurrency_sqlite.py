"""Concurrency hammer on SQLite: 16 threads and 4 spawned processes on one hot account.

The threads share one ``Ledger`` (one pooled connection each); every process opens its own. All of
them start together (a barrier) and race on the same account, so every write queues on SQLite's
single write lock: the test is that ``BEGIN IMMEDIATE`` plus the busy timeout make that queue
orderly (no "database is locked", no oversell, no lost or doubled effect).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import pytest

from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import PRICES, seed
from tests.hammer import (
    Bursts,
    ReserveOnly,
    Target,
    check_bursts,
    check_coverage,
    check_mixed,
    check_reserve_only,
    key_races,
    locked,
    mixed_coverage,
    mixed_worker,
    plan_mixed,
    reserve_until_refused,
    run_round,
    same_key_bursts,
    unexpected,
)

pytestmark = pytest.mark.slow

THREADS = 16
PROCESSES = 4
BALANCE = credits(2000)
AMOUNT = credits(7)  # 2000 // 7 = 285 holds fit, with 5 credits left over
MIXED_BALANCE = credits(100)
MIXED_STEPS = 60
BURSTS = 10


@pytest.fixture
def hot(sqlite_url: str) -> Iterator[tuple[Ledger, str]]:
    book = Ledger.open(sqlite_url)
    book.import_prices(PRICES)
    yield book, sqlite_url
    book.close()


def test_reserve_only_round_sells_exactly_the_balance(hot: tuple[Ledger, str]) -> None:
    book, url = hot
    s = seed(book, BALANCE)
    target = Target(url, s.account_id, s.member_id)
    job = ReserveOnly(AMOUNT, max_calls=BALANCE // AMOUNT + 1)

    reports, watch = run_round(
        book, target, reserve_until_refused, [job] * THREADS, [job] * PROCESSES
    )

    errors = unexpected(reports, watch)
    assert locked(errors) == [], "SQLite reported 'database is locked'"
    assert errors == []
    assert sorted(r.where for r in reports) == ["process"] * PROCESSES + ["thread"] * THREADS
    assert all(r.calls for r in reports)  # every thread and process took part
    assert key_races(reports, watch) == 0  # unique keys: no IntegrityError of any kind
    assert check_reserve_only(book, target, reports, BALANCE, AMOUNT) == []
    assert book.verify() == []
    assert watch.samples > 0
    assert watch.min_available is not None
    assert watch.min_available >= 0
    assert book.balance(s.account_id).available == BALANCE % AMOUNT
    by_processes = sum(c.ok for r in reports if r.where == "process" for c in r.calls)
    print(f"\nreserve-only round on SQLite: {by_processes} of the holds made by the processes")


def test_mixed_round_reconciles_exactly(hot: tuple[Ledger, str]) -> None:
    book, url = hot
    s = seed(book, MIXED_BALANCE)
    target = Target(url, s.account_id, s.member_id)
    jobs = [plan_mixed(w, MIXED_STEPS, seed=1) for w in range(THREADS + PROCESSES)]

    reports, watch = run_round(book, target, mixed_worker, jobs[:THREADS], jobs[THREADS:])

    errors = unexpected(reports, watch)
    assert locked(errors) == [], "SQLite reported 'database is locked'"
    assert errors == []
    # BEGIN IMMEDIATE: a key's lookup sees every committed use, so no insert of a key can collide.
    assert key_races(reports, watch) == 0
    assert check_mixed(book, target, reports, MIXED_BALANCE) == []
    assert book.verify() == []
    assert watch.min_available is not None
    assert watch.min_available >= 0
    assert book.balance(s.account_id).available >= 0
    assert check_coverage(jobs, reports) == []
    print(f"\nmixed round on SQLite: {dict(mixed_coverage(reports))}")


def test_same_key_bursts_do_the_work_once(hot: tuple[Ledger, str]) -> None:
    # All 20 workers send one identical reserve under one key at the same moment, BURSTS times.
    book, url = hot
    s = seed(book, credits(1000))
    target = Target(url, s.account_id, s.member_id)
    job = Bursts(BURSTS, multiprocessing.get_context("spawn").Barrier(THREADS + PROCESSES))

    reports, watch = run_round(book, target, same_key_bursts, [job] * THREADS, [job] * PROCESSES)

    errors = unexpected(reports, watch)
    assert locked(errors) == [], "SQLite reported 'database is locked'"
    assert errors == []
    assert key_races(reports, watch) == 0
    assert check_bursts(book, target, reports, BURSTS) == []
    assert book.verify() == []
