"""Scope: a member sees their own rows in full and only totals of their workspace, never another
person's rows or names, whatever filters they pass; an admin sees their workspaces; a filter naming
something out of scope is a clear error."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ledger.service import Ledger
from tests.test_analytics_world import START, World, mirror_path, oracle_rows, world
from workbench.analytics import breakdowns, mirror, queries
from workbench.analytics.errors import AnalyticsError
from workbench.analytics.filters import Filters
from workbench.analytics.scope import Level, scope_for

__all__ = ["mirror_path", "world"]  # fixtures

RANGE = (START - timedelta(days=1), START + timedelta(days=30))


def test_a_member_never_gets_another_persons_rows_or_names(
    ledger: Ledger, world: World, mirror_path: Path
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    me = world.acme.member_id
    scope = scope_for(ledger, me, world.acme.workspace_id)
    assert scope.level is Level.MEMBER
    mine = {r.id for r in oracle_rows(ledger, *RANGE, f"user_id = {me}")}
    for filters in (
        Filters(*RANGE),
        Filters(*RANGE, workspace_ids=(world.acme.workspace_id,)),
        Filters(*RANGE, user_ids=(me,)),
        Filters(*RANGE, statuses=("ok", "error")),
        Filters(*RANGE, grain="hour", tz="Asia/Tokyo"),
    ):
        page = breakdowns.calls(mirror_path, scope, filters, page_size=1000)
        assert {c.id for c in page.rows} <= mine
        assert {c.username for c in page.rows} <= {"acme-member"}
        for by in ("user", "workspace", "model", "feature"):
            keys = {p.key for p in queries.credits_series(mirror_path, scope, filters, by=by)}  # type: ignore[arg-type]
            assert not keys & {"acme-admin", "acme-member2", "other-admin", "other-member"}
        assert {u.name for u in breakdowns.top_users(mirror_path, scope, filters)} <= {
            "acme-member"
        }
        assert {c.username for c in breakdowns.user_model_matrix(mirror_path, scope, filters)} <= {
            "acme-member"
        }
        assert queries.tiles(mirror_path, scope, filters).current.active_users <= 1
    everything = breakdowns.calls(mirror_path, scope, Filters(*RANGE), page_size=1000)
    assert {c.id for c in everything.rows} == mine


def test_a_member_naming_someone_else_or_another_workspace_is_refused(
    ledger: Ledger, world: World, mirror_path: Path
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    scope = scope_for(ledger, world.acme.member_id, world.acme.workspace_id)
    with pytest.raises(AnalyticsError, match="only your own usage"):
        breakdowns.calls(mirror_path, scope, Filters(*RANGE, user_ids=(world.member2_id,)))
    with pytest.raises(AnalyticsError, match="cannot see usage of workspace"):
        queries.tiles(
            mirror_path, scope, Filters(*RANGE, workspace_ids=(world.other.workspace_id,))
        )
    with pytest.raises(AnalyticsError, match="cannot see usage of workspace"):
        queries.workspace_totals(mirror_path, scope, Filters(*RANGE), world.other.workspace_id)


def test_a_member_sees_the_totals_of_their_workspace(
    ledger: Ledger, world: World, mirror_path: Path
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    scope = scope_for(ledger, world.acme.member_id, world.acme.workspace_id)
    rows = oracle_rows(ledger, *RANGE, f"workspace_id = {world.acme.workspace_id}")
    totals = queries.workspace_totals(mirror_path, scope, Filters(*RANGE))
    assert (totals.requests, totals.credits, totals.active_users) == (
        len(rows),
        sum(r.credits for r in rows),
        3,
    )


def test_an_admin_sees_their_workspace_and_not_the_other(
    ledger: Ledger, world: World, mirror_path: Path
) -> None:
    mirror.sync(ledger.engine, mirror_path)
    scope = scope_for(ledger, world.acme.admin_id, world.acme.workspace_id)
    assert scope.level is Level.ADMIN
    rows = breakdowns.calls(mirror_path, scope, Filters(*RANGE), page_size=1000).rows
    assert {c.workspace_slug for c in rows} == {"acme"}
    assert {c.username for c in rows} == {"acme-admin", "acme-member", "acme-member2"}
    # Naming a user of another workspace narrows to nothing: their rows are out of scope.
    other = Filters(*RANGE, user_ids=(world.other.member_id,))
    assert breakdowns.calls(mirror_path, scope, other).total == 0
    with pytest.raises(AnalyticsError, match="cannot see usage of workspace"):
        queries.tiles(
            mirror_path, scope, Filters(*RANGE, workspace_ids=(world.other.workspace_id,))
        )
    operator = scope_for(ledger, world.acme.operator_id, None)
    assert breakdowns.calls(mirror_path, operator, Filters(*RANGE)).total == world.rows


def test_scopes_for_strangers_and_unknown_users_are_refused(ledger: Ledger, world: World) -> None:
    with pytest.raises(AnalyticsError, match="not a member of workspace"):
        scope_for(ledger, world.other.member_id, world.acme.workspace_id)
    with pytest.raises(AnalyticsError, match="not a member of workspace"):
        scope_for(ledger, world.acme.member_id, None)
    with pytest.raises(AnalyticsError, match="no active user 9999"):
        scope_for(ledger, 9999, world.acme.workspace_id)
