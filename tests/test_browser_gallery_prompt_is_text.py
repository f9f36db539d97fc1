"""A member's image prompt is text on the admin's Images page: Markdown in it is neither a live
link nor an image that makes the admin's browser fetch another site."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser_harness import (
    ADMIN,
    MEMBER,
    AppServer,
    Attacker,
    app_fixture,
    browser_fixture,
    gallery_entry,
    go,
    images_loaded,
    page_fixture,
    running_attacker,
    sign_in,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

app = app_fixture()
browser = browser_fixture()
page = page_fixture()


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    with running_attacker() as server:
        yield server


def test_a_markdown_prompt_is_literal_text_on_the_admins_gallery(
    app: AppServer, page: Page, attacker: Attacker
) -> None:
    prompt = (
        f"[Sign in again]({attacker.base}/phish) "
        f"![x]({attacker.base}/pixel.gif) <img src='{attacker.base}/raw.gif'> **loud**"
    )
    app.cli("gateway", "image", prompt, "--user", MEMBER)

    sign_in(page, app, ADMIN)
    go(page, "images")
    entry = gallery_entry(page, "[Sign in again](")
    entry.wait_for()
    assert prompt in entry.inner_text()  # every character as typed
    main = page.get_by_test_id("stMain")
    assert main.locator(f'a[href^="{attacker.base}"]').count() == 0
    assert main.locator(f'img[src^="{attacker.base}"]').count() == 0
    assert entry.locator("strong").count() == 0
    assert images_loaded(page)  # the generated image itself shows, from the app's own route
    page.wait_for_timeout(500)  # time for any stray fetch to land
    assert attacker.paths == []
