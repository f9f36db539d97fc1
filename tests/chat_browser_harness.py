"""What the chat browser tests share: the chat input's send button and a reply's Stop button, the
demo model's full reply to a message, and the app's database read directly (its SQLite file) to
check what was saved and charged."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from ledger.schema import holds, usage_records
from ledger.service import Ledger
from tests.browser_harness import MEMBER, AppServer, sign_in_form, submit_sign_in, wait_settled
from workbench.chat.conversation_sidebar import SHOWN_TITLE
from workbench.db.schema import conversations, message_attachments, messages
from workbench.gateway.providers import demo

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

T = TypeVar("T")


def send_button(page: Page) -> Locator:
    return page.get_by_test_id("stChatInputSubmitButton")


def message_box(page: Page) -> Locator:
    return page.get_by_test_id("stChatInput").locator("textarea")


def stop_button(page: Page) -> Locator:
    """A streaming reply's Stop button, in the page (not the chat input)."""
    return page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop")


def conversation_button(page: Page, title: str) -> Locator:
    """A conversation in the sidebar's list: its title as the button's text, cut to
    ``SHOWN_TITLE`` characters with an ellipsis."""
    if len(title) > SHOWN_TITLE:
        title = title[: SHOWN_TITLE - 1].rstrip() + "…"
    return page.get_by_test_id("stSidebar").get_by_role("button", name=title)


def open_chat_settings(page: Page) -> None:
    """Open the settings control above the conversation (model picker, system prompt)."""
    page.get_by_test_id("stPopover").first.get_by_role("button").first.click()
    page.get_by_role("textbox", name="System prompt (optional)").wait_for()


def demo_reply(text: str) -> str:
    """The demo model's whole reply to ``text`` sent as a conversation's first message."""
    return demo.reply_for(({"role": "user", "content": text},))


@dataclass
class ChatRecords:
    """The app's own database, read as the app wrote it."""

    ledger: Ledger

    @property
    def member_id(self) -> int:
        return self.ledger.user(MEMBER).id

    @property
    def account_id(self) -> int:
        return self.ledger.workspace("demo").account_id

    def available(self) -> int:
        return self.ledger.balance(self.account_id).available

    def conversations(self) -> list[Any]:
        return self._rows(
            sa.select(conversations)
            .where(conversations.c.user_id == self.member_id)
            .order_by(conversations.c.id)
        )

    def messages(self, conversation_id: int) -> list[Any]:
        return self._rows(
            sa.select(messages)
            .where(messages.c.conversation_id == conversation_id)
            .order_by(messages.c.id)
        )

    def holds(self) -> list[Any]:
        return self._rows(sa.select(holds).order_by(holds.c.id))

    def usage(self) -> list[Any]:
        return self._rows(sa.select(usage_records).order_by(usage_records.c.id))

    def _rows(self, query: sa.Select[Any]) -> list[Any]:
        with self.ledger.engine.connect() as conn:
            return list(conn.execute(query))


@contextmanager
def chat_records(server: AppServer) -> Iterator[ChatRecords]:
    ledger = Ledger.open(server.env["WORKBENCH_DATABASE_URL"])
    try:
        yield ChatRecords(ledger)
    finally:
        ledger.close()


# --- added for the daily-work tests (regenerate, edit, copy, search, delete, export, files) ----


def keyed(page: Page, key: str) -> Locator:
    """The element a widget (or container) with ``key`` is drawn in: Streamlit gives it the
    class ``st-key-<key>``, so a message's controls are found by its id (``copy-12``)."""
    return page.locator(f".st-key-{key}")


def open_popover(page: Page, key: str) -> Locator:
    """Open the popover with ``key`` (a message's ``copy-<id>``/``edit-<id>``, or
    ``conversation_menu``) and return its open body."""
    keyed(page, key).get_by_role("button").first.click()
    body = page.get_by_test_id("stPopoverBody")
    body.wait_for()
    return body


def user_messages(page: Page) -> Locator:
    return page.get_by_test_id("stChatMessage").filter(
        has=page.get_by_test_id("stChatMessageAvatarUser")
    )


def listed_conversations(page: Page) -> Locator:
    """The conversations in the sidebar's list: one element each (keyed ``open-<id>``). Not their
    ``button`` elements: a button with a tooltip is drawn twice, once hidden."""
    return page.get_by_test_id("stSidebar").locator(
        '[data-testid="stElementContainer"][class*="st-key-open-"]'
    )


def attach_files(page: Page, paths: list[Path]) -> None:
    """Put files in the chat input, as its picker would, with the message box still empty; return
    once the browser has uploaded them (or refused them): the send button is enabled only then,
    and Enter sends nothing while a file is still uploading."""
    from playwright.sync_api import expect

    page.get_by_test_id("stChatInput").locator('input[type="file"]').set_input_files(paths)
    expect(send_button(page)).to_be_enabled()


def sign_in_with(page: Page, server: AppServer, username: str, password: str) -> None:
    """``sign_in`` for someone other than the seeded member and admin."""
    page.goto(server.url)
    sign_in_form(page).wait_for()
    submit_sign_in(page, username, password)
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").wait_for()
    wait_settled(page)


def attachment_rows(records: ChatRecords, message_id: int) -> list[Any]:
    """The files kept with one message, in order."""
    query = (
        sa.select(message_attachments)
        .where(message_attachments.c.message_id == message_id)
        .order_by(message_attachments.c.position)
    )
    with records.ledger.engine.connect() as conn:
        return list(conn.execute(query))


def wait_until(
    page: Page, read: Callable[[], T], check: Callable[[T], bool], timeout_s: float = 30.0
) -> T:
    """Poll ``read`` (the database, say) until ``check`` holds or time runs out; the last value
    read either way, for the caller to assert on."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while not check(value) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        value = read()
    return value
