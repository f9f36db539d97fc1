"""What ``escape_markdown`` makes of typed text renders in Streamlit's real frontend (headless
Chromium) as exactly that text: no link, no image, no HTML, no emphasis, no colour, no autolink,
and no request to the host it names, in every Markdown element the pages use. Selectbox and
multiselect options, which the pages leave unescaped, are plain text there too. The same payload
unescaped (the control) does turn into a link and an image, so the checks can see markup.

The AppTest checks (tests/test_untrusted_text_is_text.py) read what the server sends; this one
shows that what it sends is harmless where it is drawn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser_harness import (
    CHROMIUM,
    NO_CHROMIUM,
    ROOT,
    START_TIMEOUT_S,
    free_port,
    launch_chromium,
    new_page,
    wait_settled,
    watch_page_errors,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

PAYLOAD = (
    "[Sign in again](http://evil.example/) ![x](http://evil.example/p.gif) "
    "<img src=x onerror=alert(1)> **bold** :red[x] ~~gone~~ `code` $x^2$ "
    "mallory@evil.example www.evil.example http://evil.example/raw AT&amp;T :smile: "
    ":material/home:\n- a list?\n1. or this"
)
# How the page shows PAYLOAD: its lines joined by spaces (a paragraph), and without the
# invisible word joiners escaping puts inside autolinks and ``:name`` shortcodes.
SHOWN = PAYLOAD.replace("\n", " ")
WORD_JOINER = "\u2060"
# Each Markdown element the pages use, fed the escaped payload; options fed it raw.
SCRIPT = f"""
import streamlit as st
from workbench.ui.messages import escape_markdown

PAYLOAD = {PAYLOAD!r}
if st.query_params.get("control"):
    st.markdown(PAYLOAD)
    st.stop()
shown = escape_markdown(PAYLOAD)
st.markdown(shown)
st.caption(shown)
st.error(shown)
st.subheader(shown)
st.metric(shown, shown)
st.button(shown)
with st.expander(shown):
    st.text("inside")
st.tabs([shown, "other"])
st.selectbox("Raw options", [PAYLOAD], key="raw_select")
st.multiselect("Raw options", [PAYLOAD], default=[PAYLOAD], key="raw_multi")
st.toast(shown)
"""
ESCAPED_TEST_IDS = (
    "stMarkdown",
    "stCaptionContainer",
    "stAlert",
    "stHeading",
    "stMetricLabel",
    "stMetricValue",
    "stButton",
    "stExpander",
    "stTab",
    "stToast",
)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("escaped-text")
    script = folder / "escaped.py"
    script.write_text(SCRIPT)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "streamlit exited"
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"streamlit did not answer within {START_TIMEOUT_S:.0f} s")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch_chromium(playwright.chromium)
        try:
            yield launched
        finally:
            launched.close()


def _open(browser: Browser, url: str) -> tuple[Page, list[str]]:
    page = new_page(browser)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    errors = watch_page_errors(page)
    page.goto(url)
    wait_settled(page)
    assert errors == []
    return page, asked


def _markup_in(element: Locator) -> list[str]:
    """Links, images and formatting the element's rendered Markdown holds (a heading's own
    anchor, ``href="#..."``, is Streamlit's, not the text's)."""
    found: list[str] = element.evaluate(
        """e => [...e.querySelectorAll('a:not([href^="#"]), img, strong, em, del, code, ol, ul, '
                                       + 'span[class*="color"], .katex, [style*="color"]')]
                 .map(n => n.outerHTML.slice(0, 120))"""
    )
    return found


def _text(element: Locator) -> str:
    return " ".join(element.inner_text().replace(WORD_JOINER, "").split())


def test_escaped_text_renders_as_exactly_what_was_typed(browser: Browser, app_url: str) -> None:
    page, asked = _open(browser, app_url)
    try:
        page.get_by_test_id("stToast").wait_for()
        for test_id in ESCAPED_TEST_IDS:
            elements = page.get_by_test_id(test_id).filter(has_text="Sign in again")
            assert elements.count() >= 1, f"no {test_id} shows the text"
            for element in elements.all():
                assert SHOWN in _text(element), (test_id, _text(element))
                assert _markup_in(element) == [], test_id
        assert (
            page.locator('a[href*="evil"]:not([href^="#"]), img[src*="evil"], img[src="x"]').count()
            == 0
        )
        assert [url for url in asked if "evil" in url] == []
    finally:
        page.context.close()


def test_selectbox_and_multiselect_options_are_plain_text(browser: Browser, app_url: str) -> None:
    page, asked = _open(browser, app_url)
    try:
        chosen = page.get_by_test_id("stMultiSelect")
        assert SHOWN in _text(chosen)
        assert _markup_in(chosen) == []
        box = page.get_by_test_id("stSelectbox").get_by_role("combobox")
        box.click()
        box.press("ArrowDown")  # a click alone focuses it but does not always open the list
        option = page.get_by_role("option").filter(has_text="Sign in again")
        option.first.wait_for()
        assert SHOWN in _text(option.first)
        assert _markup_in(option.first) == []
        listbox = page.get_by_role("listbox")
        assert listbox.locator("a, img").count() == 0
        assert [url for url in asked if "evil" in url] == []
    finally:
        page.context.close()


def test_the_same_text_unescaped_is_markup(browser: Browser, app_url: str) -> None:
    """The control: the checks above would see links, an image and the rest if there were any."""
    page, asked = _open(browser, f"{app_url}/?control=1")
    try:
        shown = page.get_by_test_id("stMarkdown")
        assert shown.locator('a[href="http://evil.example/"]').count() == 1
        assert shown.locator('a[href="mailto:mallory@evil.example"]').count() == 1
        assert shown.locator('a[href="http://www.evil.example"]').count() == 1
        assert shown.locator('img[src="http://evil.example/p.gif"]').count() == 1
        assert SHOWN not in _text(shown)
        assert _markup_in(shown) != []
        assert any("evil.example/p.gif" in url for url in asked)
    finally:
        page.context.close()
