"""Every figure the analytics layer gives, for an operator, a workspace admin and a member, equals
the same figure computed independently with plain SQL on the ledger database (buckets cut in the
display time zone in Python), whether it comes from raw rows or from the daily rollup."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.service import Ledger
from tests.test_analytics_world import (
    BOUNDARY,
    START,
    World,
    local_bucket,
    mirror_path,
    oracle_rows,
    percentile,
    visible_sql,
    world,
)
from workbench.analytics import breakdowns, mirror, queries
from workbench.analytics.filters import ROLLUP, Filters, source_for
from workbench.analytics.scope import Scope, scope_for

__all__ = ["mirror_path", "world"]  # fixtures

LEVELS = ("operator", "admin", "member")
MIDNIGHT = datetime(2026, 3, 10, tzinfo=UTC)


def viewer(ledger: Ledger, world: World, level: str) -> tuple[Scope, str]:
    """The scope of the acme operator, admin or member, and the oracle's condition for it."""
    if level == "operator":
        return scope_for(ledger, world.acme.operator_id, None), visible_sql("operator", 0)
    user_id = world.acme.admin_id if level == "admin" else world.acme.member_id
    scope = scope_for(ledger, user_id, world.acme.workspace_id)
    return scope, visible_sql(level, user_id, (world.acme.workspace_id,))


def expected_figures(rows: list[sa.Row[Any]]) -> queries.Figures:
    costed = [r for r in rows if r.usd_cost_nanos is not None]
    return queries.Figures(
        requests=len(rows),
        credits=sum(r.credits for r in rows),
        usd_cost_nanos=sum(r.usd_cost_nanos for r in costed),
        usd_cost_unknown=len(rows) - len(costed),
        margin_nanos=sum(r.credits - r.usd_cost_nanos for r in costed),
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
        cached_tokens=sum(r.cached_tokens for r in rows),
        images=sum(r.images for r in rows),
        active_users=len({r.user_id for r in rows}),
        calls=sum(r.status != "refused" for r in rows),
        errors=sum(r.status in ("error", "timeout") for r in rows),
        latency_p50_ms=percentile([r.latency_ms for r in rows if r.latency_ms is not None], 0.5),
        latency_p95_ms=percentile([r.latency_ms for r in rows if r.latency_ms is not None], 0.95),
        ttft_p50_ms=percentile([r.ttft_ms for r in rows if r.ttft_ms is not None], 0.5),
    )


def close(a: queries.Figures, b: queries.Figures) -> None:
    """Equal, but percentiles (floats) to within rounding."""
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        assert x == pytest.approx(y), name


@pytest.mark.parametrize("level", LEVELS)
def test_tiles_and_the_previous_period(
    ledger: Ledger, world: World, mirror_path: Path, level: str
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    scope, visible = viewer(ledger, world, level)
    start, end = START + timedelta(days=1, hours=3), START + timedelta(days=2, hours=7)
    got = queries.tiles(mirror_path, scope, Filters(start, end, tz="Europe/Berlin"))
    close(got.current, expected_figures(oracle_rows(ledger, start, end, visible)))
    before = oracle_rows(ledger, start - (end - start), start, visible)
    close(got.previous, expected_figures(before))
    assert got.current.requests > 0 and got.previous.requests > 0
    if level == "member":
        assert got.current.active_users == 1


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("by", ["model", "feature", "user", "workspace"])
def test_credits_series_in_berlin_days(
    ledger: Ledger, world: World, mirror_path: Path, level: str, by: str
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    scope, visible = viewer(ledger, world, level)
    start, end = MIDNIGHT, MIDNIGHT + timedelta(days=6)
    filters = Filters(start, end, grain="day", tz="Europe/Berlin")
    assert source_for(filters, "credits") is not ROLLUP
    got = queries.credits_series(mirror_path, scope, filters, by=by)  # type: ignore[arg-type]
    with ledger.engine.connect() as conn:
        names = dict(conn.execute(sa.text("SELECT id, username FROM users")).all())
        slugs = dict(conn.execute(sa.text("SELECT id, slug FROM workspaces")).all())
    expected: dict[tuple[datetime, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in oracle_rows(ledger, start, end, visible):
        key = {
            "model": r.model,
            "feature": r.feature_key,
            "user": names[r.user_id],
            "workspace": slugs[r.workspace_id],
        }[by]
        cell = expected[local_bucket(r.created_at, "day", "Europe/Berlin"), key]
        cell[0] += r.credits
        cell[1] += 1
    assert {(p.bucket, p.key): [p.credits, p.requests] for p in got} == expected
    assert all(p.bucket.utcoffset() == timedelta(hours=1) for p in got)  # Berlin, in March


def test_a_row_at_half_past_eleven_utc_counts_on_the_next_berlin_day(
    ledger: Ledger, world: World, mirror_path: Path
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    scope = scope_for(ledger, world.acme.operator_id, None)
    (row,) = oracle_rows(ledger, BOUNDARY, BOUNDARY + timedelta(seconds=1))
    only = Filters(BOUNDARY, BOUNDARY + timedelta(minutes=1), tz="Europe/Berlin")
    (point,) = queries.requests_series(mirror_path, scope, only)
    assert point.bucket == datetime(2026, 3, 12, tzinfo=point.bucket.tzinfo)
    utc = Filters(BOUNDARY, BOUNDARY + timedelta(minutes=1), tz="UTC")
    (point,) = queries.requests_series(mirror_path, scope, utc)
    assert point.bucket == datetime(2026, 3, 11, tzinfo=UTC)
    # The local day 12 March (Berlin) includes it, whatever the UTC date says.
    berlin_day = Filters(
        datetime(2026, 3, 11, 23, tzinfo=UTC),
        datetime(2026, 3, 12, 23, tzinfo=UTC),
        tz="Europe/Berlin",
    )
    ids = {c.id for c in breakdowns.calls(mirror_path, scope, berlin_day, page_size=1000).rows}
    assert row.id in ids


@pytest.mark.parametrize("grain", ["hour", "day", "week", "month"])
def test_requests_series_per_grain(
    ledger: Ledger, world: World, mirror_path: Path, grain: str
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    scope, visible = viewer(ledger, world, "admin")
    start, end = START - timedelta(days=20), START + timedelta(days=20)
    filters = Filters(start, end, grain=grain, tz="America/New_York")  # type: ignore[arg-type]
    got = queries.requests_series(mirror_path, scope, filters)
    requests: Counter[datetime] = Counter()
    errors: Counter[datetime] = Counter()
    for r in oracle_rows(ledger, start, end, visible):
        bucket = local_bucket(r.created_at, grain, "America/New_York")
        requests[bucket] += 1
        errors[bucket] += r.status in ("error", "timeout")
    assert {p.bucket: (p.requests, p.errors) for p in got} == {
        b: (n, errors[b]) for b, n in requests.items()
    }


@pytest.mark.parametrize("level", LEVELS)
def test_the_daily_rollup_answers_whole_utc_days_with_the_same_figures(
    ledger: Ledger, world: World, mirror_path: Path, level: str
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    scope, visible = viewer(ledger, world, level)
    start, end = MIDNIGHT, MIDNIGHT + timedelta(days=3)
    for grain in ("day", "week", "month"):
        filters = Filters(start, end, grain=grain, tz="UTC")  # type: ignore[arg-type]
        assert source_for(filters, "credits", "requests") is ROLLUP
        rows = oracle_rows(ledger, start, end, visible)
        series = queries.requests_series(mirror_path, scope, filters)
        requests = Counter(local_bucket(r.created_at, grain, "UTC") for r in rows)
        assert {p.bucket: p.requests for p in series} == dict(requests)
        by_model = queries.credits_series(mirror_path, scope, filters, by="model")
        assert sum(p.credits for p in by_model) == sum(r.credits for r in rows)
    models = breakdowns.top_models(mirror_path, scope, filters, limit=10)
    assert sum(m.requests for m in models) == len(rows)


@pytest.mark.parametrize("level", LEVELS)
def test_top_users_top_models_and_the_matrix(
    ledger: Ledger, world: World, mirror_path: Path, level: str
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    scope, visible = viewer(ledger, world, level)
    start, end = START, START + timedelta(days=5, minutes=13)  # raw rows: not whole days
    filters = Filters(start, end)
    rows = oracle_rows(ledger, start, end, visible)
    total = sum(r.credits for r in rows)
    per_user: Counter[int] = Counter()
    per_model: Counter[str] = Counter()
    cells: Counter[tuple[int, str]] = Counter()
    for r in rows:
        per_user[r.user_id] += r.credits
        per_model[r.model] += r.credits
        cells[r.user_id, r.model] += r.credits
    users = breakdowns.top_users(mirror_path, scope, filters, limit=10)
    assert {u.id: u.credits for u in users} == dict(per_user)
    assert [u.credits for u in users] == sorted(per_user.values(), reverse=True)
    assert sum(u.share for u in users) == pytest.approx(1.0)
    models = breakdowns.top_models(mirror_path, scope, filters, limit=2)
    assert [(m.name, m.credits) for m in models] == sorted(
        per_model.items(), key=lambda kv: (-kv[1], kv[0])
    )[:2]
    assert models[0].share == pytest.approx(models[0].credits / total)
    matrix = breakdowns.user_model_matrix(mirror_path, scope, filters)
    assert {(c.user_id, c.model): c.credits for c in matrix} == dict(cells)


def test_latency_histogram_and_calls_pages(ledger: Ledger, world: World, mirror_path: Path) -> None:
    mirror.sync(ledger.engine, mirror_path)
    scope, visible = viewer(ledger, world, "admin")
    start, end = START, START + timedelta(days=10)
    filters = Filters(start, end, statuses=("ok", "error", "timeout"))
    rows = [
        r for r in oracle_rows(ledger, start, end, visible) if r.status in filters.statuses or ()
    ]
    bins = breakdowns.latency_histogram(mirror_path, scope, filters, edges=(0, 1000, 10_000))
    latencies = [r.latency_ms for r in rows]
    assert [(b.low_ms, b.high_ms, b.count) for b in bins] == [
        (0, 1000, sum(x < 1000 for x in latencies)),
        (1000, 10_000, sum(1000 <= x < 10_000 for x in latencies)),
        (10_000, None, sum(x >= 10_000 for x in latencies)),
    ]
    seen: list[int] = []
    page = 1
    while True:
        got = breakdowns.calls(mirror_path, scope, filters, page=page, page_size=4)
        assert got.total == len(rows)
        if not got.rows:
            break
        seen += [c.id for c in got.rows]
        page += 1
    assert seen == [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]
    first = breakdowns.calls(mirror_path, scope, filters, page_size=1).rows[0]
    newest = max(rows, key=lambda r: (r.created_at, r.id))
    assert (first.credits, first.model, first.created_at) == (
        newest.credits,
        newest.model,
        newest.created_at,
    )
    assert first.username in {"acme-admin", "acme-member", "acme-member2"}
