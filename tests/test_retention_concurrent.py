"""Purges on several replicas at once: on PostgreSQL only one runs (an advisory lock; the others
say so and do nothing), and even without the lock two purges working the same rows at the same
moment remove and count each row, conversation and image file exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.schema import purged_usage_daily
from ledger.service import Ledger
from tests.conftest import PRICES, FakeClock
from tests.retention_harness import (
    DAYS,
    World,
    files_under,
    open_world,
    real_now,
    snapshot,
)
from workbench.cli import main
from workbench.images.store import ImageStore
from workbench.retention import conversations, images, usage
from workbench.retention.lock import only_purge
from workbench.retention.policy import Policy, midnight_before
from workbench.retention.purge import run

POLICY = Policy(DAYS, DAYS, DAYS)


@pytest.fixture
def world(ledger: Ledger, clock: FakeClock, db_url: str, tmp_path: Path) -> World:
    return open_world(ledger, clock, db_url, tmp_path)


def twice_at_once(work: Callable[[], Any]) -> list[Any]:
    """``work`` in two threads released together; both results."""
    start = threading.Barrier(2)
    results: list[Any] = [None, None]
    errors: list[BaseException] = []

    def one(n: int) -> None:
        start.wait()
        try:
            results[n] = work()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return results


def ignore(*_: object) -> None:
    return None


def test_two_purges_at_once_take_each_row_once(ledger: Ledger, world: World) -> None:
    """The lock bypassed: the row conditions alone keep two purges apart, one row per batch."""
    cutoff = midnight_before(real_now(), DAYS)
    engine, root = ledger.engine, world.image_root
    before = snapshot(ledger)
    keeps = images.images_kept(ImageStore(root), cutoff)

    talks = twice_at_once(
        lambda: conversations.purge(engine, cutoff, 1, in_transaction=ignore, progress=ignore)
    )
    assert sum(t.conversations for t in talks) == len(world.old_conversations)
    assert sum(t.messages for t in talks) == world.old_messages
    pictures = twice_at_once(
        lambda: images.purge(engine, root, cutoff, 1, before_first=ignore, progress=ignore)
    )
    assert sum(p.calls for p in pictures) == sum(p.files for p in pictures) == 3
    rows = twice_at_once(
        lambda: usage.purge(engine, cutoff, 1, keeps, in_transaction=ignore, progress=ignore)
    )
    assert sum(r.rows for r in rows) == len(world.old_usage)

    after = snapshot(ledger)
    assert after["counts"]["conversations"] == (
        before["counts"]["conversations"] - len(world.old_conversations)
    )
    assert after["counts"]["usage_records"] == (
        before["counts"]["usage_records"] - len(world.old_usage)
    )
    with ledger.engine.connect() as conn:
        summed = conn.execute(sa.select(sa.func.sum(purged_usage_daily.c.requests))).scalar_one()
    assert summed == len(world.old_usage)
    assert after["journal"] == before["journal"]
    assert ledger.verify() == []


@pytest.mark.postgres
def test_only_one_purge_runs_at_a_time_on_postgres(
    postgres_url: str,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger = Ledger.open(postgres_url, clock=clock, pool_size=4)
    ledger.import_prices(PRICES)
    world = open_world(ledger, clock, postgres_url, tmp_path)
    db_url = postgres_url
    before, files = snapshot(ledger), files_under(world.image_root)
    with only_purge(ledger.engine) as ours:
        assert ours
        busy = run(ledger.engine, world.image_root, POLICY, real_now(), dry_run=False)
        assert busy.busy and not busy.removed.anything
        monkeypatch.setenv("WORKBENCH_IMAGE_DIR", str(world.image_root))
        monkeypatch.setenv("WORKBENCH_RETENTION_USAGE_DAYS", str(DAYS))
        assert main(["--database-url", db_url, "purge"]) == 0
        assert capsys.readouterr().out.splitlines() == [
            "Another purge is running on this database: nothing done."
        ]
        assert snapshot(ledger) == before
        assert files_under(world.image_root) == files
    done = run(ledger.engine, world.image_root, POLICY, real_now(), dry_run=False)
    assert not done.busy
    assert done.removed.usage is not None and done.removed.usage.rows == len(world.old_usage)
    ledger.close()


def test_two_whole_runs_at_once_remove_everything_once(ledger: Ledger, world: World) -> None:
    before = snapshot(ledger)
    reports = twice_at_once(
        lambda: run(
            ledger.engine, world.image_root, POLICY, real_now(), dry_run=False, batch_size=1
        )
    )
    ran = [r for r in reports if not r.busy]
    assert ran, "one of them runs"
    removed = [r.removed for r in ran]
    assert sum(f.usage.rows for f in removed if f.usage) == len(world.old_usage)
    assert sum(f.conversations.conversations for f in removed if f.conversations) == len(
        world.old_conversations
    )
    assert sum(f.images.files for f in removed if f.images) == 3
    after = snapshot(ledger)
    assert after["journal"] == before["journal"]
    # One event per run that removed something (a run the other left nothing to is silent).
    assert 1 <= len(after["audit"]) - len(before["audit"]) <= len(ran)
    assert ledger.verify() == []
