"""A call made a moment ago shows at the next run of the page (the mirror syncs on every run,
cheaply when nothing is new), in the tiles and in the calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_harness import AppEnv, app_env, assert_no_exception, metrics
from tests.test_app_usage_renders import make_calls, tables, usage_page


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def test_a_call_made_just_now_shows_after_a_rerun(env: AppEnv) -> None:
    make_calls(env, env.member, 3, "before")
    at = usage_page(env, env.member, "Calls")
    assert metrics(at)["Requests"] == "3"
    make_calls(env, env.member, 1, "just-now")
    at.run()
    assert_no_exception(at)
    assert metrics(at)["Requests"] == "4"
    [calls] = [frame for frame in tables(at) if "when" in frame.columns]
    assert len(calls) == 4


def test_the_calls_are_paged_newest_first(env: AppEnv) -> None:
    make_calls(env, env.member, 53, "many")
    at = usage_page(env, env.member, "Calls")
    assert "Page 1 of 2 · 53 calls, newest first" in [c.value for c in at.caption]
    [first] = [frame for frame in tables(at) if "when" in frame.columns]
    assert len(first) == 50
    [older] = [b for b in at.button if b.label == "Older"]
    older.click().run()
    assert_no_exception(at)
    assert "Page 2 of 2 · 53 calls, newest first" in [c.value for c in at.caption]
    [second] = [frame for frame in tables(at) if "when" in frame.columns]
    assert len(second) == 3
