"""The UI benchmark's in-page clock (scripts/ui_clock.py) on a stand-in page in headless Chromium:
a page that plays a script of Streamlit-like changes (the ``stApp`` run state flipping, a title,
a reply, an alert) on timers after the click, and records when it made each one on the page's
own clock. Each test checks where the clock put a step's end against those marks: after the
change that should end it and before the next one that should not, so no figure of time is
asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from scripts.ui_clock import Clock, Step, StepFailed
from tests.browser_harness import CHROMIUM, NO_CHROMIUM, browser_fixture, new_page

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

URL = "http://bench-clock.invalid/"
QUIET_MS = 300
STAND_IN = """<!doctype html><html><body>
<div data-testid="stApp" data-test-script-state="notRunning" data-test-connection-state="CONNECTED">
  <section data-testid="stSidebar"><a href="#" id="go">Go</a></section>
  <section data-testid="stMain">MAIN</section>
</div>
<div id="outside"></div>
<script>
window.marks = [];
const app = document.querySelector('[data-testid="stApp"]');
const main = document.querySelector('[data-testid="stMain"]');
const acts = {
  running: () => app.setAttribute("data-test-script-state", "running"),
  notRunning: () => app.setAttribute("data-test-script-state", "notRunning"),
  set: (html) => { main.innerHTML = html; },
  add: (html) => main.insertAdjacentHTML("beforeend", html),
  remove: (selector) => main.querySelectorAll(selector).forEach((e) => e.remove()),
  outside: (html) => document.getElementById("outside").insertAdjacentHTML("beforeend", html),
  mark: () => {},
};
document.getElementById("go").addEventListener("click", (e) => {
  e.preventDefault();
  for (const [at, what, arg] of window.plan) {
    setTimeout(() => {
      window.marks.push([what, performance.timeOrigin + performance.now()]);
      acts[what](arg);
    }, at);
  }
});
</script></body></html>"""
TITLE = "<h1>Target</h1>"
STOP = '<button><div data-testid="stMarkdownContainer">Stop</div></button>'
WORDS = '<div data-testid="stMarkdownContainer">{}</div>'
CAPTION = '<div data-testid="stCaptionContainer">0.01 credits</div>'
REPLY = (
    '<div data-testid="stChatMessage"><div data-testid="stChatMessageContent" '
    'aria-label="Chat message from assistant">{}</div></div>'
)

browser = browser_fixture()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = new_page(browser)
    try:
        yield opened
    finally:
        opened.context.close()


def stand_in(page: Page, main: str = "MAIN", *, timeout_s: float = 20.0) -> Clock:
    clock = Clock(page, QUIET_MS, timeout_s)
    page.route(URL, lambda route: route.fulfill(content_type="text/html", body=STAND_IN))
    page.goto(URL)
    page.evaluate(
        "(html) => { document.querySelector('[data-testid=stMain]').innerHTML = html }", main
    )
    return clock


def play(page: Page, clock: Clock, plan: list[list[Any]], kind: str, **args: Any) -> Step:
    page.evaluate(f"() => {{ window.plan = {json.dumps(plan)} }}")
    clock.arm(kind, **args)
    page.locator("#go").click()
    step = clock.wait(f"the stand-in's {kind}")
    page.wait_for_function("() => window.marks.length === window.plan.length")  # the plan played
    return step


def at(page: Page, what: str, nth: int = -1) -> float:
    """When the stand-in made its ``nth`` change ``what``, in seconds after the click."""
    t0: float = page.evaluate("() => window.__bench.armed.t0")
    marks: list[tuple[str, float]] = page.evaluate("() => window.marks")
    return [when - t0 for name, when in marks if name == what][nth] / 1000


def test_a_page_switch_ends_when_the_run_ends_with_the_title_shown(page: Page) -> None:
    clock = stand_in(page)
    plan = [[30, "running"], [60, "set", TITLE], [90, "notRunning"], [400, "mark"]]
    step = play(page, clock, plan, "page", title="Target")
    # The click's page was not running and had no title: neither is the end, nor the title
    # shown while the run went on.
    assert step.to_run is not None
    assert at(page, "running") <= step.to_run < at(page, "set")
    assert at(page, "notRunning") <= step.run_ended == step.total < at(page, "mark")
    assert step.browser is not None and step.browser >= 0


def test_a_rerun_within_the_quiet_window_moves_the_end_to_its_end(page: Page) -> None:
    clock = stand_in(page)
    plan = [
        [30, "running"],
        [60, "set", TITLE],
        [90, "notRunning"],
        [90 + QUIET_MS // 2, "running"],
        [90 + QUIET_MS // 2 + 50, "notRunning"],
        [90 + QUIET_MS * 3, "mark"],
    ]
    step = play(page, clock, plan, "page", title="Target")
    assert at(page, "notRunning") <= step.run_ended == step.total < at(page, "mark")
    assert step.total > at(page, "running")  # the second run's start: later than the first end


def test_drawing_in_the_page_after_the_run_counts_and_elsewhere_does_not(page: Page) -> None:
    clock = stand_in(page)
    plan = [
        [30, "running"],
        [60, "set", TITLE],
        [90, "notRunning"],
        [140, "add", "<p>a chart, drawn after the run</p>"],
        [190, "outside", "<p>a toast, outside the page</p>"],
        [190 + QUIET_MS * 3, "mark"],
    ]
    step = play(page, clock, plan, "page", title="Target")
    assert at(page, "notRunning") <= step.run_ended < at(page, "add")
    assert at(page, "add") <= step.total < at(page, "outside")


def test_the_first_token_is_the_replys_own_text_not_its_stop_button(page: Page) -> None:
    earlier = REPLY.format(WORDS.format("An earlier reply") + CAPTION)
    clock = stand_in(page, earlier)
    plan = [
        [30, "running"],
        [60, "add", REPLY.format(STOP)],
        [120, "set", earlier + REPLY.format(STOP + WORDS.format("*Demo"))],
        [170, "set", earlier + REPLY.format(STOP + WORDS.format("*Demo model"))],
        [220, "set", earlier + REPLY.format(WORDS.format("*Demo model") + CAPTION)],
        [270, "notRunning"],
    ]
    step = play(page, clock, plan, "reply", baseline=1)
    assert step.first_token is not None
    assert at(page, "add") < at(page, "set", 0) <= step.first_token < at(page, "set", 1)
    assert step.first_text == "*Demo"
    assert at(page, "notRunning") <= step.run_ended


def test_a_landmark_already_shown_before_the_action_is_refused(page: Page) -> None:
    clock = stand_in(page, TITLE)
    with pytest.raises(StepFailed, match="already shown before the action"):
        clock.arm("page", title="Target")


def test_a_run_that_ends_without_its_landmark_fails_with_what_the_page_shows(page: Page) -> None:
    clock = stand_in(page)
    alert = '<div data-testid="stAlertContainer">Something went wrong (reference abc)</div>'
    plan = [[30, "running"], [60, "set", alert], [90, "notRunning"]]
    with pytest.raises(StepFailed, match=r"finished its run without it.*reference abc"):
        play(page, clock, plan, "page", title="Target")


def test_a_run_that_never_ends_times_out_saying_where_it_stood(page: Page) -> None:
    clock = stand_in(page, timeout_s=1.0)
    with pytest.raises(StepFailed, match=r"not settled within 1 s.*'running'"):
        play(page, clock, [[30, "running"], [60, "set", TITLE]], "page", title="Target")
