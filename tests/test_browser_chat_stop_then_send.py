"""Stop a reply in a real browser, then send the next message at once: the stopped reply says so
and what it cost, the sidebar's credits and the conversation list are current right away, and the
next message continues the same conversation (same conversation, same entry in the list, the
model sent the stopped part as history)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page

from ledger.amounts import credits_text, format_credits
from tests.browser_harness import (
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    app_fixture,
    as_micros,
    assistant_messages,
    available_credits,
    browser_fixture,
    page_fixture,
    send_chat,
    sign_in,
    wait_chat_reply_saved,
    wait_settled,
)
from tests.chat_browser_harness import (
    chat_records,
    conversation_button,
    demo_reply,
    send_button,
    stop_button,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

# Slow enough that Stop lands long before the demo model's reply is over.
app = app_fixture(stream_delay_s=0.1)
browser = browser_fixture()
page = page_fixture()


def stop_the_reply(page: Page, replies_before: int) -> None:
    """Once the reply has started to show, press Stop (the reply's own button; before it
    existed, the chat input's send button became the stop button)."""
    streaming = assistant_messages(page).nth(replies_before)
    streaming.get_by_text(re.compile("Demo model")).wait_for()
    (stop_button(page) if stop_button(page).count() else send_button(page)).click()


def conversation_entries(page: Page, title: str) -> int:
    return conversation_button(page, title).count()


def test_a_message_sent_right_after_stop_continues_the_conversation(
    app: AppServer, page: Page
) -> None:
    sign_in(page, app, MEMBER)
    first = f"Tell me all about lighthouse keepers {uuid.uuid4().hex[:6]}"
    second = "Now just one sentence about them."
    with chat_records(app) as records:
        conversations_before = len(records.conversations())
        replies_before = assistant_messages(page).count()
        send_chat(page, first)
        stop_the_reply(page, replies_before)

        stopped = assistant_messages(page).nth(replies_before)
        caption = stopped.get_by_test_id("stCaptionContainer").filter(has_text="stopped")
        caption.wait_for()
        wait_settled(page)
        [conversation] = records.conversations()[conversations_before:]
        user, reply = records.messages(conversation.id)
        assert (user.content, reply.status) == (first, "cancelled")
        assert demo_reply(first).startswith(reply.content) and reply.content != demo_reply(first)
        said = f"stopped — {credits_text(reply.credits)} charged for what was written"
        # Then its tokens in and out, and its time.
        shown = caption.inner_text().strip()
        tokens = f"{reply.input_tokens:,} → {reply.output_tokens:,} tokens"
        assert re.fullmatch(re.escape(f"{said} · {tokens} · ") + r"\d+\.\d s", shown), shown
        # Right after Stop: the balance after the charge, and the conversation in the list.
        assert available_credits(page) == as_micros(format_credits(records.available()))
        assert conversation_entries(page, first) == 1

        send_chat(page, second)
        wait_chat_reply_saved(page, replies_before + 1)
        assert len(records.conversations()) == conversations_before + 1
        saved = [(m.role, m.status) for m in records.messages(conversation.id)]
        assert saved == [
            ("user", None),
            ("assistant", "cancelled"),
            ("user", None),
            ("assistant", "ok"),
        ]
        assert conversation_entries(page, first) == 1
        assert conversation_entries(page, second) == 0
