"""The Images gallery pages through every call, 24 to a page, newest first: Older shows the calls
before, Newer comes back; deleted calls leave no hole in a page; a new Generate lands on the
first page with its images on top; an admin pages through the whole workspace's calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import AppEnv, assert_no_exception, button
from tests.images_harness import (
    buttons,
    images_env,
    images_page,
    make_images,
    one_button,
    prompts_shown,
)
from workbench.images.gallery import PAGE_SIZE


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with images_env(tmp_path, monkeypatch) as opened:
        yield opened


def call(n: int) -> str:
    return f"Call {n:02d}"


def newest_first(first: int, last: int) -> list[str]:
    return [call(n) for n in range(last, first - 1, -1)]


def seed_calls(env: AppEnv, how_many: int) -> list[int]:
    return [make_images(env, env.member, call(n)) for n in range(1, how_many + 1)]


def older(at: AppTest) -> AppTest:
    return one_button(at, "Older").click().run()


def newer(at: AppTest) -> AppTest:
    return one_button(at, "Newer").click().run()


def page_caption(at: AppTest) -> list[str]:
    return [c.value for c in at.main.caption if c.value.startswith("Page ")]


def test_thirty_calls_page_two_shows_the_six_oldest(env: AppEnv) -> None:
    seed_calls(env, 30)
    at = images_page(env, env.member)
    assert_no_exception(at)
    assert PAGE_SIZE == 24
    assert prompts_shown(at) == newest_first(7, 30)
    assert len(at.image) == 24
    assert page_caption(at) == ["Page 1, newest first"]
    assert one_button(at, "Newer").disabled
    assert not one_button(at, "Older").disabled

    at = older(at)
    assert_no_exception(at)
    assert prompts_shown(at) == newest_first(1, 6)
    assert len(at.image) == 6
    assert page_caption(at) == ["Page 2, newest first"]
    assert one_button(at, "Older").disabled
    assert not one_button(at, "Newer").disabled

    at = newer(at)
    assert prompts_shown(at) == newest_first(7, 30)


def test_one_page_of_calls_has_no_pager(env: AppEnv) -> None:
    seed_calls(env, PAGE_SIZE)
    at = images_page(env, env.member)
    assert prompts_shown(at) == newest_first(1, 24)
    assert buttons(at, "Older") == []
    assert buttons(at, "Newer") == []
    assert page_caption(at) == []


def test_deleted_calls_leave_no_hole_in_a_page(env: AppEnv) -> None:
    holds = seed_calls(env, 30)
    for hold_id in holds[27:30]:  # the three newest: Call 28, 29, 30
        env.svc.gateway.images.delete(hold_id, user_id=env.member.id)
    at = images_page(env, env.member)
    assert prompts_shown(at) == newest_first(4, 27)
    at = older(at)
    assert prompts_shown(at) == newest_first(1, 3)
    assert one_button(at, "Older").disabled


def test_a_page_emptied_by_deletes_elsewhere_says_so(env: AppEnv) -> None:
    holds = seed_calls(env, 26)
    at = older(images_page(env, env.member))
    assert prompts_shown(at) == newest_first(1, 2)
    for hold_id in holds[:2]:
        env.svc.gateway.images.delete(hold_id, user_id=env.member.id)
    at = at.run()
    assert prompts_shown(at) == []
    assert "No older images." in [c.value for c in at.main.caption]
    at = newer(at)
    assert prompts_shown(at) == newest_first(3, 26)


def test_a_new_generate_lands_on_the_first_page(env: AppEnv) -> None:
    seed_calls(env, 30)
    at = older(images_page(env, env.member))
    at.text_area(key="img_prompt").set_value("The newest one")
    at = button(at, "Generate").click().run()
    assert_no_exception(at)
    assert prompts_shown(at) == ["The newest one", *newest_first(8, 30)]
    assert page_caption(at) == ["Page 1, newest first"]


def test_an_admin_pages_through_everyone_in_the_workspace(env: AppEnv) -> None:
    for n in range(1, 31):
        make_images(env, env.member if n % 2 else env.other, call(n))
    at = images_page(env, env.admin)
    assert prompts_shown(at) == newest_first(7, 30)
    at = older(at)
    assert prompts_shown(at) == newest_first(1, 6)
    # A member pages through their own only: 15 calls fit on one page.
    mine = images_page(env, env.member)
    assert prompts_shown(mine) == [call(n) for n in range(29, 0, -2)]
    assert buttons(mine, "Older") == []
