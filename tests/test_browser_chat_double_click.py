"""A double click on Send, in a real browser, sends the message once and gets the whole reply,
charged once as answered: the second click lands on the chat input's send button (empty, so
disabled), never on a Stop button. Also the slower double click whose second click comes once the
reply is already streaming.

The demo model streams its reply word by word (a few seconds in all), so a second click lands
mid-reply; its full reply is known (workbench.gateway.providers.demo.reply_for), and the app's
database says what was saved and charged."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page

from tests.browser_harness import (
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    app_fixture,
    assistant_messages,
    browser_fixture,
    page_fixture,
    sign_in,
    wait_chat_reply_saved,
)
from tests.chat_browser_harness import (
    ChatRecords,
    chat_records,
    demo_reply,
    message_box,
    send_button,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture(stream_delay_s=0.05)
browser = browser_fixture()
page = page_fixture()


def assert_answered_once_in_full(records: ChatRecords, text: str, before: int) -> None:
    [conversation] = [c for c in records.conversations() if c.title == text]
    saved = [(m.role, m.content, m.status) for m in records.messages(conversation.id)]
    assert saved == [("user", text, None), ("assistant", demo_reply(text), "ok")]
    [reply] = [m for m in records.messages(conversation.id) if m.role == "assistant"]
    [hold] = [h for h in records.holds() if h.id == reply.hold_id]
    [usage] = [u for u in records.usage() if u.hold_id == hold.id]
    assert (hold.status, usage.status) == ("captured", "ok")
    assert usage.credits == hold.captured == reply.credits > 0
    assert before - records.available() == usage.credits
    assert len(records.holds()) == len(records.usage())  # no other turn was started


def test_a_double_click_on_send_gets_one_full_reply(app: AppServer, page: Page) -> None:
    sign_in(page, app, MEMBER)
    text = f"Plan a visit to the lighthouse {uuid.uuid4().hex[:6]}"
    with chat_records(app) as records:
        before = records.available()
        replies_before = assistant_messages(page).count()
        message_box(page).fill(text)
        send_button(page).dblclick()
        reply = wait_chat_reply_saved(page, replies_before)
        assert "stopped" not in reply.inner_text()
        assert_answered_once_in_full(records, text, before)


def test_a_second_click_once_the_reply_streams_does_not_stop_it(app: AppServer, page: Page) -> None:
    sign_in(page, app, MEMBER)
    text = f"Compare two lighthouses {uuid.uuid4().hex[:6]}"
    with chat_records(app) as records:
        before = records.available()
        replies_before = assistant_messages(page).count()
        message_box(page).fill(text)
        box = send_button(page).bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.click(x, y)
        # The reply is streaming: click again where Send was.
        assistant_messages(page).nth(replies_before).wait_for()
        page.mouse.click(x, y)
        reply = wait_chat_reply_saved(page, replies_before)
        assert "stopped" not in reply.inner_text()
        assert_answered_once_in_full(records, text, before)
