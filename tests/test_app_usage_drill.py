"""Drill-down on Usage analytics: a period, a user or a model picked narrows the page's own
filters, so the calls table (and everything else) shows only its calls."""

from __future__ import annotations

from datetime import date
from typing import Any

from streamlit.testing.v1 import AppTest

from tests.app_harness import AppEnv, assert_no_exception
from tests.test_app_usage_renders import env, everyone_calls, usage_page

__all__ = ["env"]  # the fixture, shared with test_app_usage_renders


def calls(at: AppTest) -> Any:
    """The calls table as shown (the frame with a "when" column)."""
    [frame] = [f.value for f in at.dataframe if "when" in f.value.columns]
    return frame


def test_drilling_into_a_model_shows_only_its_calls(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.operator, "Calls")
    models = sorted(set(calls(at)["model"]))
    assert len(models) > 1
    at.selectbox(key="usage_drill_model").set_value(models[0]).run()
    assert_no_exception(at)
    assert at.multiselect(key="usage_models").value == [models[0]]
    assert set(calls(at)["model"]) == {models[0]}


def test_drilling_into_a_user_shows_only_their_calls(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.admin, "Calls")
    at.selectbox(key="usage_drill_user").set_value(env.member.id).run()
    assert_no_exception(at)
    assert at.multiselect(key="usage_users").value == [env.member.id]
    assert set(calls(at)["user"]) == {env.member.username}


def test_drilling_into_a_period_narrows_the_days_and_the_grouping(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.operator, "Calls")
    before = len(calls(at))
    labels = [label for label in at.selectbox(key="usage_drill_period").options if label != "—"]
    assert labels and all(label.startswith("day of ") for label in labels)
    day = date.fromisoformat(labels[-1].removeprefix("day of "))
    at.selectbox(key="usage_drill_period").set_value(day).run()
    assert_no_exception(at)
    assert at.date_input(key="usage_first").value == day
    assert at.date_input(key="usage_last").value == day
    assert at.selectbox(key="usage_grain").value == "hour"
    assert len(calls(at)) == before  # every call was made today


def test_a_member_has_no_user_drill(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.member, "Calls")
    keys = [box.key for box in at.selectbox]
    assert "usage_drill_user" not in keys
    assert "usage_drill_model" in keys


def test_a_week_or_month_period_ends_on_its_last_day() -> None:
    from workbench.analytics.drill import last_day

    assert last_day(date(2026, 2, 1), "month") == date(2026, 2, 28)
    assert last_day(date(2028, 2, 1), "month") == date(2028, 2, 29)
    assert last_day(date(2026, 11, 23), "week") == date(2026, 11, 29)
    assert last_day(date(2026, 11, 30), "day") == date(2026, 11, 30)
