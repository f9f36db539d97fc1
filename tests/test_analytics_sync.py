"""Syncing the DuckDB mirror: only new rows are copied, the watermark moves, nothing new costs next
to nothing, the daily rollup always equals the raw rows, and concurrent syncs are safe."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import duckdb
import sqlalchemy as sa

from ledger.service import Ledger
from tests.conftest import FakeClock
from tests.test_analytics_world import (
    START,
    World,
    mirror_path,
    oracle_rows,
    world,
    write_call,
    write_rows,
)
from workbench.analytics import mirror

__all__ = ["mirror_path", "world"]  # fixtures

EVERYTHING = (START - timedelta(days=1), START + timedelta(days=60))


def mirrored_ids(path: Path) -> list[int]:
    with duckdb.connect(str(path)) as con:
        return [r[0] for r in con.execute("SELECT id FROM usage ORDER BY id").fetchall()]


def test_a_second_sync_adds_only_the_new_rows(
    ledger: Ledger, clock: FakeClock, world: World, mirror_path: Path
) -> None:
    first = mirror.sync(ledger.engine, mirror_path)
    ids = [r.id for r in oracle_rows(ledger, *EVERYTHING)]
    assert (first.rows_added, first.watermark) == (world.rows, max(ids))
    assert mirror.watermark(mirror_path) == max(ids)

    write_rows(ledger, clock, world, 7, start=world.rows)
    second = mirror.sync(ledger.engine, mirror_path)
    ids = [r.id for r in oracle_rows(ledger, *EVERYTHING)]
    assert (second.rows_added, second.watermark) == (7, max(ids))
    assert mirrored_ids(mirror_path) == ids


def test_a_sync_with_nothing_new_adds_nothing_and_is_quick(
    ledger: Ledger, world: World, mirror_path: Path
) -> None:
    first = mirror.sync(ledger.engine, mirror_path)
    again = mirror.sync(ledger.engine, mirror_path)
    assert (again.rows_added, again.watermark) == (0, first.watermark)
    assert again.seconds < 1.0
    assert len(mirrored_ids(mirror_path)) == world.rows


def test_small_batches_copy_the_same_rows(ledger: Ledger, world: World, tmp_path: Path) -> None:
    whole, batched = tmp_path / "whole.duckdb", tmp_path / "batched.duckdb"
    mirror.sync(ledger.engine, whole)
    report = mirror.sync(ledger.engine, batched, batch_size=7)
    assert report.rows_added == world.rows
    assert mirrored_ids(whole) == mirrored_ids(batched)
    with duckdb.connect(str(whole)) as a, duckdb.connect(str(batched)) as b:
        query = "SELECT * FROM usage_daily ORDER BY ALL"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()


def test_rollup_totals_equal_raw_totals_per_day(
    ledger: Ledger, clock: FakeClock, world: World, mirror_path: Path
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    write_rows(ledger, clock, world, 9, start=world.rows)  # the last day grows after a sync
    mirror.sync(ledger.engine, mirror_path)
    expected: dict[object, list[int]] = {}
    for r in oracle_rows(ledger, *EVERYTHING):
        sums = expected.setdefault(r.created_at.date(), [0] * 7)
        values = (r.credits, r.usd_cost_nanos or 0, r.usd_cost_nanos is None, r.input_tokens)
        for i, value in enumerate((1, *values, r.output_tokens, r.images)):
            sums[i] += int(value)
    with duckdb.connect(str(mirror_path)) as con:
        rows = con.execute(
            "SELECT day, sum(requests), sum(credits), sum(usd_cost_nanos), sum(usd_cost_unknown),"
            " sum(input_tokens), sum(output_tokens), sum(images) FROM usage_daily "
            "GROUP BY day ORDER BY day"
        ).fetchall()
        raw = con.execute(
            "SELECT sum(credits), sum(latency_ms), count(latency_ms) FROM usage"
        ).fetchone()
        rolled = con.execute(
            "SELECT sum(credits), sum(latency_ms_sum), sum(latency_count) FROM usage_daily"
        ).fetchone()
    assert {day: [int(v) for v in sums] for day, *sums in rows} == expected
    assert raw == rolled


def test_concurrent_syncs_from_two_threads_copy_each_row_once(
    ledger: Ledger, world: World, mirror_path: Path
) -> None:
    reports: list[mirror.SyncReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(mirror.sync(ledger.engine, mirror_path, batch_size=5))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(r.rows_added for r in reports) == [0, 0, 0, world.rows]
    assert len(mirrored_ids(mirror_path)) == world.rows


def test_a_row_committed_late_below_the_watermark_is_still_copied(
    ledger: Ledger, world: World, mirror_path: Path
) -> None:
    """On PostgreSQL an id can commit after a higher one: the hole is looked up again."""
    ids = [r.id for r in oracle_rows(ledger, *EVERYTHING)]
    top = max(ids)
    with ledger.engine.begin() as conn:
        names = [c["name"] for c in sa.inspect(conn).get_columns("usage_records")]
        rest = ", ".join(n for n in names if n != "id")
        copy = (
            f"INSERT INTO usage_records (id, {rest}) "
            f"SELECT :new, {rest.replace('hold_id', 'NULL').replace('idempotency_key', 'NULL')} "
            "FROM usage_records WHERE id = :old"
        )
        conn.execute(sa.text(copy), {"new": top + 2, "old": top})
    assert mirror.sync(ledger.engine, mirror_path).watermark == top + 2
    with ledger.engine.begin() as conn:  # the id in the hole commits last
        conn.execute(sa.text(copy), {"new": top + 1, "old": top})
    report = mirror.sync(ledger.engine, mirror_path)
    assert (report.rows_added, report.watermark) == (1, top + 2)
    assert mirrored_ids(mirror_path)[-3:] == [top, top + 1, top + 2]
    assert mirror.sync(ledger.engine, mirror_path).rows_added == 0


def test_new_users_and_workspaces_reach_the_dimension_tables(
    ledger: Ledger, world: World, mirror_path: Path
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    late = ledger.create_user("late-joiner")
    ledger.add_member(world.acme.workspace_id, late.id, "member")
    write_call(ledger, late.id, world.acme.account_id, "late", "ok")
    assert mirror.sync(ledger.engine, mirror_path).rows_added == 1
    with duckdb.connect(str(mirror_path)) as con:
        names = dict(con.execute("SELECT id, username FROM users").fetchall())
        slugs = set(dict(con.execute("SELECT id, slug FROM workspaces").fetchall()).values())
    assert names[late.id] == "late-joiner"
    assert {"acme", "other"} <= slugs
