"""The Images page counts images in words: "1 image", "2 images", never "image(s)": in the toast
after Generate, under each gallery card, in the delete confirmation and in the toast after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits_text
from tests.app_harness import AppEnv, all_text, assert_no_exception, button
from tests.images_harness import buttons, images_env, images_page, made_lines, one_button
from workbench.ui.image_wording import images_count


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with images_env(tmp_path, monkeypatch) as opened:
        yield opened


def generate(at: AppTest, prompt: str, count: int) -> AppTest:
    at.text_area(key="img_prompt").set_value(prompt)
    at.number_input(key="n-demo/images").set_value(count)
    return button(at, "Generate").click().run()


def charged(env: AppEnv) -> str:
    """What the newest call was charged, as the page writes credits."""
    return credits_text(env.usage_rows()[-1].credits)


def toasts(at: AppTest) -> list[str]:
    return [t.value for t in at.toast]


def test_images_count() -> None:
    assert [images_count(n) for n in (0, 1, 2, 1234)] == [
        "0 images",
        "1 image",
        "2 images",
        "1,234 images",
    ]


def test_one_image_and_two_images_everywhere_on_the_page(env: AppEnv) -> None:
    at = generate(images_page(env, env.member), "One", 1)
    assert_no_exception(at)
    assert toasts(at) == [f"1 image for {charged(env)}."]
    at = generate(at, "Two", 2)
    assert toasts(at) == [f"2 images for {charged(env)}."]
    assert [line.split(" · ")[0] for line in made_lines(at)] == ["2 images", "1 image"]

    at = buttons(at, "Delete")[0].click().run()  # the newest card's: 2 images
    assert [w.value for w in at.warning] == [
        "Delete these 2 images for good? They cannot be brought back; what they cost stays in "
        "the usage history."
    ]
    at = one_button(at, "Delete for good").click().run()
    assert toasts(at) == ["2 images deleted."]
    at = one_button(at, "Delete").click().run()
    assert [w.value for w in at.warning] == [
        "Delete this image for good? It cannot be brought back; what it cost stays in the usage "
        "history."
    ]
    at = one_button(at, "Delete for good").click().run()
    assert toasts(at) == ["1 image deleted."]
    assert "image(s)" not in all_text(at)
