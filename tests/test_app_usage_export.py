"""The export of the calls in view: built only when a download button asks for it (the page
renders without building it), every call in the viewer's scope and filters, as CSV or Parquet."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
import pytest

from tests.app_harness import AppEnv, app_env
from tests.test_app_usage_renders import everyone_calls, usage_page
from workbench.analytics import dashboard, tables
from workbench.analytics.scope import scope_for


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def test_the_page_does_not_build_the_export(env: AppEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    everyone_calls(env)
    built: list[str] = []
    monkeypatch.setattr(tables, "export_frame", lambda *args: built.append("built"))
    at = usage_page(env, env.admin, "Calls")
    assert len(at.get("download_button")) == 2
    assert built == []


def test_a_members_export_holds_their_calls_only(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.member, "Calls")  # syncs the mirror
    path = dashboard.mirror_path(env.svc.config)
    scope = scope_for(env.svc.ledger, env.member.id, env.workspace.id)
    ss = at.session_state
    filters = dashboard.build_filters(ss["usage_first"], ss["usage_last"], "day", "UTC")
    mine = [r for r in env.usage_rows() if r.user_id == env.member.id]

    csv = pd.read_csv(io.BytesIO(tables.export_csv(path, scope, filters)))
    assert sorted(csv["id"]) == [r.id for r in mine]
    assert set(csv["user"]) == {env.member.username}
    assert csv["credits_micros"].sum() == sum(r.credits for r in mine)

    parquet = pd.read_parquet(io.BytesIO(tables.export_parquet(path, scope, filters)))
    assert sorted(parquet["id"]) == [r.id for r in mine]
    assert tables.export_name(filters, "csv").startswith("usage-")
