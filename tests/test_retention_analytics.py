"""Usage retention and the analytics: after a purge, every figure over whole UTC days reads the
same as before, in a mirror that had copied the purged rows, in one that was behind (some purged
rows never reached it) and in one made afresh; each mirror keeps no raw row the database purged;
part-day figures count only the rows still kept; the health's drift still reads 0 and still
catches a planted fault; a mirror file from before the margin was rolled up is rebuilt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from ledger import db
from ledger.schema import PURGED_USAGE_MEASURES, usage_records
from ledger.service import Ledger
from tests.conftest import FakeClock
from tests.test_analytics_figures import close, expected_figures
from tests.test_analytics_world import START, World, build_world, oracle_rows, write_rows
from workbench.analytics import breakdowns, dashboard, mirror, queries, rollups
from workbench.analytics.filters import Filters
from workbench.analytics.health import health
from workbench.analytics.scope import Scope, scope_for
from workbench.retention.policy import Policy
from workbench.retention.purge import run

# One day kept at 10:00 on 13 March: rows before 12 March 00:00 UTC (the world's first 23) go.
NOW = datetime(2026, 3, 13, 10, tzinfo=UTC)
CUTOFF = datetime(2026, 3, 12, tzinfo=UTC)
WHOLE_DAYS = Filters(datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))


def purge(book: Ledger, tmp_path: Path) -> int:
    done = run(book.engine, tmp_path / "images", Policy(usage_days=1), NOW, dry_run=False)
    assert done.removed.usage is not None
    return done.removed.usage.rows


def figures(path: Path, scope: Scope, filters: Filters = WHOLE_DAYS) -> dict[str, Any]:
    tiles = queries.tiles(path, scope, filters)
    return {
        "tiles": [
            {k: v for k, v in vars(f).items() if not k.startswith(("latency", "ttft"))}
            for f in (tiles.current, tiles.previous)
        ],
        "by_model": queries.credits_series(path, scope, filters, "model"),
        "by_user": queries.credits_series(path, scope, filters, "user"),
        "requests": queries.requests_series(path, scope, filters),
        "top_users": breakdowns.top_users(path, scope, filters),
        "top_models": breakdowns.top_models(path, scope, filters),
        "matrix": breakdowns.user_model_matrix(path, scope, filters),
    }


def mirrored_ids(path: Path) -> list[int]:
    with duckdb.connect(str(path)) as con:
        return [int(r[0]) for r in con.execute("SELECT id FROM usage ORDER BY id").fetchall()]


def ledger_ids(book: Ledger) -> list[int]:
    with book.engine.connect() as conn:
        return list(conn.execute(sa.select(usage_records.c.id).order_by(usage_records.c.id)))


def scopes(book: Ledger, world: World) -> list[Scope]:
    """An operator, a workspace admin and a member of acme."""
    return [
        scope_for(book, world.acme.operator_id, None),
        scope_for(book, world.acme.admin_id, world.acme.workspace_id),
        scope_for(book, world.acme.member_id, world.acme.workspace_id),
    ]


def test_whole_day_figures_read_the_same_in_every_mirror(
    ledger: Ledger, clock: FakeClock, tmp_path: Path
) -> None:
    world = build_world(ledger, clock, rows=20)
    behind, ahead, fresh = (tmp_path / f"{n}.duckdb" for n in ("behind", "ahead", "fresh"))
    mirror.sync(ledger.engine, behind)  # before rows 20 to 59 (20 to 22 will be purged)
    write_rows(ledger, clock, world, 40, start=20)
    mirror.sync(ledger.engine, ahead)
    viewers = scopes(ledger, world)
    expected = [figures(ahead, scope) for scope in viewers]
    assert len(mirrored_ids(ahead)) == 60

    assert purge(ledger, tmp_path) == 23
    kept = [row.id for row in ledger_ids(ledger)]
    assert len(kept) == 37
    for path in (behind, ahead, fresh):
        mirror.sync(ledger.engine, path)
        assert [figures(path, scope) for scope in viewers] == expected, path.name
        assert mirrored_ids(path) == kept, path.name  # the mirror holds no purged row
    # Nothing more to take in: another sync changes nothing.
    mirror.sync(ledger.engine, ahead)
    assert [figures(ahead, scope) for scope in viewers] == expected


def test_part_days_and_hours_count_only_the_rows_still_kept(
    ledger: Ledger, clock: FakeClock, tmp_path: Path
) -> None:
    world = build_world(ledger, clock)
    path = tmp_path / "mirror.duckdb"
    scope = scope_for(ledger, world.acme.operator_id, None)
    part = Filters(START, START + timedelta(days=2))  # noon to noon: raw rows
    hours = Filters(START, START + timedelta(days=2), grain="hour")
    mirror.sync(ledger.engine, path)
    before = queries.tiles(path, scope, part).current.requests
    assert before == len(oracle_rows(ledger, part.start, part.end))

    purge(ledger, tmp_path)
    mirror.sync(ledger.engine, path)
    kept = oracle_rows(ledger, part.start, part.end)
    assert 0 < len(kept) < before
    assert queries.tiles(path, scope, part).current.requests == len(kept)
    assert sum(p.requests for p in queries.requests_series(path, scope, hours)) == len(kept)
    calls = breakdowns.calls(path, scope, part, page_size=1000)
    assert sorted(c.id for c in calls.rows) == [r.id for r in kept]
    assert all(c.created_at >= CUTOFF for c in calls.rows)


def test_drift_reads_zero_after_a_purge_and_still_catches_a_fault(
    ledger: Ledger, clock: FakeClock, tmp_path: Path
) -> None:
    world = build_world(ledger, clock)
    scope = scope_for(ledger, world.acme.operator_id, None)
    found = health(ledger, scope, WHOLE_DAYS, NOW)
    assert found is not None and found.drift == []
    purge(ledger, tmp_path)
    found = health(ledger, scope, WHOLE_DAYS, NOW)
    assert found is not None and found.drift == []
    # A charged row after the cut-off lost behind the journal's back is still caught.
    with db.write_transaction(ledger.engine) as conn:
        charged = sa.select(sa.func.max(usage_records.c.id)).where(usage_records.c.credits > 0)
        lost = conn.execute(
            sa.delete(usage_records)
            .where(usage_records.c.id.in_(charged))
            .returning(usage_records.c.credits)
        ).scalar_one()
    found = health(ledger, scope, WHOLE_DAYS, NOW)
    assert found is not None and found.drift_total == lost > 0


def test_a_mirror_made_before_the_margin_was_rolled_up_is_rebuilt(
    ledger: Ledger, clock: FakeClock, tmp_path: Path
) -> None:
    world = build_world(ledger, clock)
    path = tmp_path / "mirror.duckdb"
    scope = scope_for(ledger, world.acme.operator_id, None)
    mirror.sync(ledger.engine, path)
    expected = queries.tiles(path, scope, WHOLE_DAYS).current
    close(expected, expected_figures(oracle_rows(ledger, WHOLE_DAYS.start, WHOLE_DAYS.end)))
    older = [c for c in [*rollups.KEY, *rollups.MEASURES] if c != "credits_costed"]
    with duckdb.connect(str(path)) as con:  # the rollup as it was made before
        con.execute(f"CREATE TABLE before AS SELECT {', '.join(older)} FROM usage_daily")
        con.execute("DROP TABLE usage_daily")
        con.execute("ALTER TABLE before RENAME TO usage_daily")
    mirror.sync(ledger.engine, path)
    assert queries.tiles(path, scope, WHOLE_DAYS).current == expected
    assert expected.margin_nanos != 0


def test_the_purged_sums_are_the_rollups_measures() -> None:
    assert set(rollups.MEASURES) == set(PURGED_USAGE_MEASURES)


def test_the_filter_choices_keep_what_only_purged_days_used(
    ledger: Ledger, clock: FakeClock, tmp_path: Path
) -> None:
    world = build_world(ledger, clock, rows=20)
    path = tmp_path / "mirror.duckdb"
    mirror.sync(ledger.engine, path)
    viewers = scopes(ledger, world)
    before = [dashboard.choices(path, scope) for scope in viewers]
    assert before[0].models and before[0].users

    assert purge(ledger, tmp_path) == 20  # every raw row is before the cut-off
    mirror.sync(ledger.engine, path)
    assert mirrored_ids(path) == []
    # The charts still show the purged days' models and people: the filters still offer them.
    assert [dashboard.choices(path, scope) for scope in viewers] == before
