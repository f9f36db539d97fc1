"""Bad input to the analytics layer is a clear ``AnalyticsError`` sentence, never a crash: empty
or inverted ranges, ranges over five years, naive times, unknown grains, zones, statuses, users
and workspaces, bad pages, and a mirror that was never synced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.service import Ledger
from tests.test_analytics_world import START, World, mirror_path, world
from workbench.analytics import breakdowns, mirror, queries
from workbench.analytics.errors import AnalyticsError
from workbench.analytics.filters import Filters
from workbench.analytics.scope import scope_for

__all__ = ["mirror_path", "world"]  # fixtures

END = START + timedelta(days=1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"start": END, "end": START}, "ends .* before it starts"),
        ({"start": START, "end": START}, "starts and ends at the same moment"),
        ({"end": START + timedelta(days=5 * 366)}, "longer than five years"),
        ({"start": datetime(2026, 3, 10)}, "with a zone"),
        ({"grain": "fortnight"}, "grain must be one of"),
        ({"tz": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"tz": "../etc/passwd"}, "unknown time zone"),
        ({"statuses": ("ok", "exploded")}, "unknown status exploded"),
        ({"user_ids": (0,)}, "user ids must be positive"),
        ({"models": ("",)}, "models must be non-empty"),
    ],
)
def test_bad_filters_are_refused_with_a_sentence(arguments: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"start": START, "end": END, **arguments}
    with pytest.raises(AnalyticsError, match=message):
        Filters(**values)


def test_five_years_exactly_is_allowed() -> None:
    start = datetime(2021, 1, 1, tzinfo=UTC)
    assert Filters(start, datetime(2026, 1, 1, tzinfo=UTC)).previous().end == start


def test_unknown_users_and_workspaces_and_bad_pages(
    ledger: Ledger, world: World, mirror_path: Path
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    operator = scope_for(ledger, world.acme.operator_id, None)
    with pytest.raises(AnalyticsError, match="there is no user 4242"):
        queries.tiles(mirror_path, operator, Filters(START, END, user_ids=(4242,)))
    with pytest.raises(AnalyticsError, match="there is no workspace 77"):
        breakdowns.calls(mirror_path, operator, Filters(START, END, workspace_ids=(77,)))
    with pytest.raises(AnalyticsError, match="numbered from 1"):
        breakdowns.calls(mirror_path, operator, Filters(START, END), page=0)
    with pytest.raises(AnalyticsError, match="a page holds"):
        breakdowns.calls(mirror_path, operator, Filters(START, END), page_size=10**6)
    with pytest.raises(AnalyticsError, match="series is by"):
        queries.credits_series(mirror_path, operator, Filters(START, END), by="colour")  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match="increasing"):
        breakdowns.latency_histogram(mirror_path, operator, Filters(START, END), edges=(5, 1))
    with pytest.raises(AnalyticsError, match="batch size"):
        mirror.sync(ledger.engine, mirror_path, batch_size=0)


def test_a_mirror_never_synced_says_so(ledger: Ledger, world: World, tmp_path: Path) -> None:
    operator = scope_for(ledger, world.acme.operator_id, None)
    with pytest.raises(AnalyticsError, match="run a sync first"):
        queries.tiles(tmp_path / "nothing.duckdb", operator, Filters(START, END))
    assert mirror.watermark(tmp_path / "nothing.duckdb") == 0
