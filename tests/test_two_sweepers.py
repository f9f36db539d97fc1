"""Two sweepers at once (threads, each on its own connection) expire every hold exactly once."""

from __future__ import annotations

import threading

from ledger.amounts import credits
from ledger.service import Ledger, SweepReport
from tests.conftest import FakeClock, Seed, reserve


def test_two_sweepers_expire_each_hold_once(ledger: Ledger, seeded: Seed, clock: FakeClock) -> None:
    holds = [reserve(ledger, seeded, credits(10), f"r{i}") for i in range(40)]
    clock.advance(hours=1)
    reports: list[SweepReport] = []
    barrier = threading.Barrier(2)

    def sweeper() -> None:
        barrier.wait()
        reports.append(ledger.sweep(limit=1000))

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(report.holds_expired for report in reports) == len(holds)
    assert {ledger.hold(h).status for h in holds} == {"expired"}
    expire_lines = [
        line for line in ledger.history(seeded.account_id, limit=1000) if line.kind == "expire"
    ]
    assert sorted(line.hold_id for line in expire_lines) == sorted(holds)
    assert ledger.balance(seeded.account_id).held == 0
    assert ledger.verify() == []
