"""What the chat browser tests share: the chat input's send button and a reply's Stop button, the
demo model's full reply to a message, and the app's database read directly (its SQLite file) to
check what was saved and charged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ledger.schema import holds, usage_records
from ledger.service import Ledger
from tests.browser_harness import MEMBER, AppServer
from workbench.chat.conversation_sidebar import SHOWN_TITLE
from workbench.db.schema import conversations, messages
from workbench.gateway.providers import demo

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


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
