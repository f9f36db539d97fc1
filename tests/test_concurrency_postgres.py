"""Concurrency hammer on PostgreSQL: 32 threads, each on its own pooled connection, one hot account.

Writers serialise on the account's row lock (``SELECT … FOR UPDATE``) at READ COMMITTED. Racing
first uses of one idempotency key make all but one insert of the key fail on its primary key; the
ledger retries those once and answers them as replays, which the mixed round checks exactly.
"""

from __future__ import annotations

import threading
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
    mixed_coverage,
    mixed_worker,
    plan_mixed,
    reserve_until_refused,
    run_round,
    same_key_bursts,
    unexpected,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

THREADS = 32
BALANCE = credits(2000)
AMOUNT = credits(7)  # 2000 // 7 = 285 holds fit, with 5 credits left over
MIXED_BALANCE = credits(100)
MIXED_STEPS = 60
BURSTS = 10


@pytest.fixture
def hot(postgres_url: str) -> Iterator[tuple[Ledger, str]]:
    book = Ledger.open(postgres_url, pool_size=40)
    book.import_prices(PRICES)
    yield book, postgres_url
    book.close()


def test_reserve_only_round_sells_exactly_the_balance(hot: tuple[Ledger, str]) -> None:
    book, url = hot
    assert book.engine.pool.size() >= THREADS  # type: ignore[attr-defined]
    s = seed(book, BALANCE)
    target = Target(url, s.account_id, s.member_id)
    job = ReserveOnly(AMOUNT, max_calls=BALANCE // AMOUNT + 1)

    reports, watch = run_round(book, target, reserve_until_refused, [job] * THREADS)

    assert unexpected(reports, watch) == []
    assert len(reports) == THREADS
    assert key_races(reports, watch) == 0  # unique keys: no IntegrityError of any kind
    assert check_reserve_only(book, target, reports, BALANCE, AMOUNT) == []
    assert book.verify() == []
    assert watch.samples > 0
    assert watch.min_available is not None
    assert watch.min_available >= 0
    assert book.balance(s.account_id).available == BALANCE % AMOUNT


def test_mixed_round_reconciles_exactly(hot: tuple[Ledger, str]) -> None:
    book, url = hot
    s = seed(book, MIXED_BALANCE)
    target = Target(url, s.account_id, s.member_id)
    jobs = [plan_mixed(w, MIXED_STEPS, seed=2) for w in range(THREADS)]

    reports, watch = run_round(book, target, mixed_worker, jobs)

    assert unexpected(reports, watch) == []
    assert check_mixed(book, target, reports, MIXED_BALANCE) == []
    assert book.verify() == []
    assert watch.min_available is not None
    assert watch.min_available >= 0
    assert book.balance(s.account_id).available >= 0
    assert check_coverage(jobs, reports) == []
    races = key_races(reports, watch)
    print(f"\nmixed round on PostgreSQL: {races} key races; {dict(mixed_coverage(reports))}")


def test_same_key_bursts_do_the_work_once(hot: tuple[Ledger, str]) -> None:
    # All 32 threads send one identical reserve under one key at the same moment, BURSTS times:
    # the losers of each race fail on the key's primary key, and the ledger's retry replays them.
    book, url = hot
    s = seed(book, credits(1000))
    target = Target(url, s.account_id, s.member_id)
    job = Bursts(BURSTS, threading.Barrier(THREADS))

    reports, watch = run_round(book, target, same_key_bursts, [job] * THREADS)

    assert unexpected(reports, watch) == []
    assert check_bursts(book, target, reports, BURSTS) == []
    assert book.verify() == []
    print(f"\nsame-key bursts on PostgreSQL: {key_races(reports, watch)} key races")
