"""Choices that make no sense (a last day before the first, ten years, an hour grain over months)
are one sentence on the page, never an exception or a traceback, and nothing else is queried."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.app_harness import AppEnv, all_text, app_env, assert_no_exception
from tests.test_app_usage_renders import charts, everyone_calls, usage_page


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def errors_after(env: AppEnv, first: date, last: date, grain: str = "day") -> list[str]:
    everyone_calls(env)
    at = usage_page(env, env.member)
    at.selectbox(key="usage_grain").set_value(grain)
    at.date_input(key="usage_first").set_value(first)
    at.date_input(key="usage_last").set_value(last).run()
    assert_no_exception(at)
    assert "Traceback" not in all_text(at)
    assert at.main.metric == [] and charts(at) == []
    return [e.value for e in at.error]


def test_a_last_day_before_the_first_is_one_sentence(env: AppEnv) -> None:
    assert errors_after(env, date(2026, 3, 10), date(2026, 3, 1)) == [
        "The range ends on 1 March 2026, before it starts on 10 March 2026: choose a last day "
        "on or after the first."
    ]


def test_ten_years_is_one_sentence(env: AppEnv) -> None:
    assert errors_after(env, date(2016, 1, 1), date(2025, 12, 31)) == [
        "The range is longer than five years: choose a shorter one."
    ]


def test_hours_over_months_is_one_sentence(env: AppEnv) -> None:
    assert errors_after(env, date(2026, 1, 1), date(2026, 3, 31), grain="hour") == [
        "Grouping by hour covers at most 31 days: choose a shorter range or group by day, "
        "week or month."
    ]


def test_a_quick_pick_sets_both_days_and_a_typed_day_clears_it(env: AppEnv) -> None:
    at = usage_page(env, env.member)
    picks = at.segmented_control(key="usage_pick")
    assert picks.value == "7 days"
    picks.set_value("Today").run()
    assert_no_exception(at)
    first, last = at.date_input(key="usage_first"), at.date_input(key="usage_last")
    assert first.value == last.value
    first.set_value(date(2026, 1, 1)).run()
    assert at.segmented_control(key="usage_pick").value is None
