"""A member's image prompt is text on the admin's Images page: Markdown in it is neither a live
link nor an image that makes the admin's browser fetch another site."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser_harness import (
    ADMIN,
    MEMBER,
    AppServer,
    app_fixture,
    browser_fixture,
    gallery_entry,
    go,
    images_loaded,
    page_fixture,
    sign_in,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

app = app_fixture()
browser = browser_fixture()
page = page_fixture()


class Attacker(http.server.ThreadingHTTPServer):
    """A loopback "other site" that records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    server = Attacker()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_markdown_prompt_is_literal_text_on_the_admins_gallery(
    app: AppServer, page: Page, attacker: Attacker
) -> None:
    prompt = (
        f"[Sign in again]({attacker.url}/phish) "
        f"![x]({attacker.url}/pixel.gif) <img src='{attacker.url}/raw.gif'> **loud**"
    )
    app.cli("gateway", "image", prompt, "--user", MEMBER)

    sign_in(page, app, ADMIN)
    go(page, "images")
    entry = gallery_entry(page, "[Sign in again](")
    entry.wait_for()
    assert prompt in entry.inner_text()  # every character as typed
    main = page.get_by_test_id("stMain")
    assert main.locator(f'a[href^="{attacker.url}"]').count() == 0
    assert main.locator(f'img[src^="{attacker.url}"]').count() == 0
    assert entry.locator("strong").count() == 0
    assert images_loaded(page)  # the generated image itself shows, from the app's own route
    page.wait_for_timeout(500)  # time for any stray fetch to land
    assert attacker.requests == []
