"""Every page of the app works under its Content-Security-Policy, in real headless Chromium: the
page is served with the policy, and signing in, a chat reply, an image, My credits, the usage
charts and tables, and both admin pages raise no ``securitypolicyviolation`` event and no console
complaint about the policy, while the charts and tables really draw."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.browser_harness import (
    ADMIN,
    CHROMIUM,
    NO_CHROMIUM,
    AppServer,
    browser_fixture,
    chat_once,
    generate_image,
    go,
    images_loaded,
    page_fixture,
    sign_in,
    start_app,
    wait_settled,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

browser = browser_fixture()
page = page_fixture()

# Every violation the document or any frame of it reports, from the first script on.
RECORD_VIOLATIONS_JS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__violations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || '(inline)'} ` +
    `in ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with a quarter's synthetic usage, so the usage page has charts and tables."""
    server = start_app(tmp_path_factory.mktemp("csp-app"))
    try:
        server.cli("usage", "seed", "--events", "2000")
        yield server
    finally:
        server.stop()


def violations(page: Page, console: list[str]) -> list[str]:
    found: list[str] = page.evaluate("() => window.__violations || []")
    return found + [line for line in console if "Content Security Policy" in line]


def assert_drawn(page: Page, *, charts: int, tables: int) -> None:
    """The open tab's Vega charts have marks and its grids a canvas with a width."""
    drawn_charts = page.get_by_test_id("stVegaLiteChart")
    drawn_tables = page.get_by_test_id("stDataFrame")
    assert (drawn_charts.count(), drawn_tables.count()) == (charts, tables)
    for i in range(charts):
        drawn_charts.nth(i).scroll_into_view_if_needed()
        drawn_charts.nth(i).locator('g[class*="mark-"] path').first.wait_for()
    for i in range(tables):
        drawn_tables.nth(i).scroll_into_view_if_needed()
        canvas = drawn_tables.nth(i).get_by_test_id("data-grid-canvas")
        canvas.wait_for()
        assert (canvas.bounding_box() or {"width": 0})["width"] > 0


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    wait_settled(page)


def test_every_page_works_under_the_policy(page: Page, app: AppServer) -> None:
    page.context.add_init_script(RECORD_VIOLATIONS_JS)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    first = page.goto(app.url)
    assert first is not None
    assert "frame-ancestors 'none'" in first.headers.get("content-security-policy", "")

    sign_in(page, app, ADMIN)
    assert violations(page, console) == [], "signing in"

    reply = chat_once(page, "Write a short list and a code block")
    assert reply.inner_text().strip()
    assert violations(page, console) == [], "Chat"

    go(page, "images")
    generate_image(page, "a lighthouse at dusk")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-testid=stImage] img'))"
        ".some(i => i.complete && i.naturalWidth > 0)"
    )
    assert images_loaded(page)
    assert violations(page, console) == [], "Images"

    go(page, "credits")
    assert violations(page, console) == [], "My credits"

    go(page, "usage")
    assert_drawn(page, charts=2, tables=0)  # Credits: per period and the burn rate
    open_tab(page, "Requests and latency")
    assert_drawn(page, charts=2, tables=0)
    open_tab(page, "Top models and users")
    assert_drawn(page, charts=0, tables=3)
    open_tab(page, "Calls")
    assert_drawn(page, charts=0, tables=1)
    assert violations(page, console) == [], "Usage analytics"

    for url_path in ("admin_credits", "admin_pricing"):
        go(page, url_path)
        assert violations(page, console) == [], url_path
