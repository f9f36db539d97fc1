"""Chat's layout in a real browser: the message box pinned at the bottom of the window however long
the conversation; at a phone's width (390 px) the conversation first, the conversation list with
the balance and Sign out behind the sidebar's control, nothing wider than the screen; the settings
control opening the model picker with each model's context size and price."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Browser, Locator, Page

from tests.browser_harness import (
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    UI_TIMEOUT_MS,
    AppServer,
    app_fixture,
    browser_fixture,
    chat_once,
    new_page,
    page_fixture,
    sidebar,
    sign_in,
    sign_out_button,
    wait_settled,
)
from tests.chat_browser_harness import message_box

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture(stream_delay_s=0.0)
browser = browser_fixture()
page = page_fixture()

PHONE = {"width": 390, "height": 844}


def box_of(locator: Locator) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, "not laid out"
    return box


def assert_pinned_at_bottom(page: Page, height: int) -> None:
    """The message box is on screen, within its last 160 px."""
    box = box_of(page.get_by_test_id("stChatInput"))
    assert height - 160 <= box["y"] and box["y"] + box["height"] <= height, box


def test_the_message_box_stays_at_the_bottom_as_the_conversation_grows(
    app: AppServer, page: Page
) -> None:
    sign_in(page, app, MEMBER)
    topic = uuid.uuid4().hex[:6]
    for turn in range(3):  # the demo's replies are long: three fill more than the window
        chat_once(page, f"Tell me about harbours {topic} part {turn}")
    main = page.get_by_test_id("stAppScrollToBottomContainer")  # the part that scrolls
    assert main.evaluate("(e) => e.scrollHeight") > 900, "the conversation should be taller"
    assert_pinned_at_bottom(page, 900)
    # Scrolled to the top, the box is still there.
    main.evaluate("(e) => e.scrollTo(0, 0)")
    wait_settled(page)
    assert_pinned_at_bottom(page, 900)
    assert message_box(page).is_visible()


def test_the_settings_control_shows_each_model_s_context_and_price(
    app: AppServer, page: Page
) -> None:
    sign_in(page, app, MEMBER)
    page.get_by_test_id("stPopover").filter(has_text="Demo chat (offline)").first.click()
    picker = page.get_by_test_id("stRadio")
    picker.wait_for()
    said = picker.inner_text()
    assert "Demo chat (offline)" in said
    assert "8,192-token context" in said, said
    assert "100 / 400 credits per million tokens in / out" in said, said
    assert page.get_by_role("textbox", name="System prompt (optional)").is_visible()


def test_at_a_phone_s_width_the_conversation_comes_first(app: AppServer, browser: Browser) -> None:
    phone = new_page(browser, **PHONE)
    try:
        sign_in(phone, app, MEMBER)
        # The sidebar (conversation list, balance, Sign out) is folded away behind its control.
        folded = box_of(sidebar(phone))
        assert folded["x"] + folded["width"] <= 0, folded
        text = f"Which lighthouse is oldest {uuid.uuid4().hex[:6]}"
        reply = chat_once(phone, text)
        assert reply.is_visible()
        assert_pinned_at_bottom(phone, PHONE["height"])
        reply_box = box_of(reply)
        assert reply_box["x"] >= 0 and reply_box["x"] + reply_box["width"] <= PHONE["width"]
        wide = phone.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= PHONE["width"], f"the page is {wide} px wide on a {PHONE['width']} px phone"

        phone.get_by_test_id("stExpandSidebarButton").click()
        new = sidebar(phone).get_by_role("button", name="New conversation")
        new.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
        # It slides in: wait until it is fully on screen.
        phone.wait_for_function(
            """() => { const r = document.querySelector('[data-testid="stSidebar"]')
                .getBoundingClientRect(); return r.left >= 0 && r.width > 200; }""",
            timeout=UI_TIMEOUT_MS,
        )
        assert sidebar(phone).get_by_role("button", name=text).is_visible()
        assert sidebar(phone).get_by_text("Credits available").is_visible()
        assert sign_out_button(phone).is_visible()
    finally:
        phone.context.close()
