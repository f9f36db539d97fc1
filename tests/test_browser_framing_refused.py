"""Another origin cannot frame the app: a page served by a tiny HTTP server on another loopback
port puts the app in an iframe, and Chromium refuses to show it (``frame-ancestors 'none'``), so
there is no sign-in form inside the frame for a person to type a password into."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser_harness import (
    CHROMIUM,
    NO_CHROMIUM,
    AppServer,
    app_fixture,
    browser_fixture,
    page_fixture,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture()
browser = browser_fixture()
page = page_fixture()

# Where Chromium sends a frame it refused to show.
REFUSED_FRAME_URL = "chrome-error://chromewebdata/"


@pytest.fixture
def framing_site(app: AppServer) -> Iterator[str]:
    """The other origin: its one page frames the app's front page."""
    body = (
        "<!doctype html><title>Not the workbench</title>"
        f'<iframe id="app" src="{app.url}/" width="1000" height="700"></iframe>'
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_another_origin_cannot_frame_the_app(page: Page, framing_site: str) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    # "load" waits for the iframe too, whether it loaded or was refused.
    page.goto(framing_site, wait_until="load")
    frames = [frame for frame in page.frames if frame != page.main_frame]
    assert len(frames) == 1
    frame = frames[0]
    assert frame.url == REFUSED_FRAME_URL, f"the frame shows {frame.url}"
    assert frame.locator("input").count() == 0
    assert frame.locator("form").count() == 0
    assert any("frame-ancestors" in line for line in console), console
