"""A member sees their own calls and their workspace's totals, never another person: no other
username or display name in any text, table, chart or filter, whatever the chart is stacked by;
and the page offers them no filter, stack or table by person."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import AppEnv, all_text, app_env, assert_no_exception
from tests.test_app_usage_renders import (
    charts_text,
    everyone_calls,
    open_section,
    tab_labels,
    tables,
    usage_page,
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def everything_shown(at: AppTest) -> str:
    parts = [all_text(at), charts_text(at)]
    parts += [frame.to_string() for frame in tables(at)]
    for widget in (*at.multiselect, *at.selectbox, *at.segmented_control):
        parts += [str(option) for option in widget.options]
    return "\n".join(parts)


def others(env: AppEnv) -> list[str]:
    people = (env.admin, env.other, env.operator)
    return [p.username for p in people] + [p.display_name for p in people]


def test_a_member_sees_no_one_else_whatever_the_stacking(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.member)
    stacks = at.segmented_control(key="usage_by")
    assert list(stacks.options) == ["Model", "Feature", "Workspace"]
    for by in ("model", "feature", "workspace"):
        stacks.set_value(by).run()
        assert_no_exception(at)
        shown = everything_shown(at)
        for name in others(env):
            assert name not in shown, (by, name)
    for section in tab_labels(at)[1:]:
        shown = everything_shown(open_section(at, section))
        for name in others(env):
            assert name not in shown, (section, name)
    [calls] = [frame for frame in tables(at) if "user" in frame.columns]  # Calls, open last
    assert set(calls["user"]) == {env.member.username}
    assert len(calls) == len([r for r in env.usage_rows() if r.user_id == env.member.id])


def test_a_member_has_no_filter_or_table_by_person(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.member)
    assert "User" not in [m.label for m in at.multiselect]
    assert "Top models and users" not in tab_labels(open_section(at, "Top models"))
    assert not {"Top users", "Credits by user and model"} & {s.value for s in at.subheader}


def test_an_admin_sees_everyone_in_the_workspace(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.admin)
    users = at.multiselect(key="usage_users")
    assert sorted(users.options) == sorted(
        p.username for p in (env.admin, env.member, env.other, env.operator)
    )
    at.segmented_control(key="usage_by").set_value("user").run()
    assert_no_exception(at)
    assert env.other.username in charts_text(at)
