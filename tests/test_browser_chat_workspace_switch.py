"""Switching workspace in the sidebar while a reply streams, in a real browser: the other
workspace shows nothing wrong and is charged nothing; the reply ends (stopped) in the workspace it
was sent in, paid from there, and is shown there, said to be stopped, once the person is back.

The switch starts the next run at once while the streaming one is still being interrupted and
saved in its own thread (Streamlit's fast reruns): what AppTest cannot show."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from ledger.amounts import credits
from tests.browser_harness import (
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    app_fixture,
    assistant_messages,
    browser_fixture,
    page_fixture,
    send_chat,
    sidebar,
    sign_in,
    wait_settled,
)
from tests.chat_browser_harness import chat_records, conversation_button, stop_button

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture(stream_delay_s=0.1)
browser = browser_fixture()
page = page_fixture()


def choose_workspace(page: Page, name: str) -> None:
    picker = sidebar(page).get_by_role("combobox", name="Workspace")
    picker.click()
    page.get_by_role("option", name=name, exact=True).click()
    # Settled first: while the switch's run draws, the sidebar can briefly hold the old picker
    # (stale) beside the new one, and a strict locator then matches two.
    wait_settled(page)
    expect(picker).to_have_value(name)


def test_switching_workspace_mid_reply_ends_it_cleanly_where_it_was_sent(
    app: AppServer, page: Page
) -> None:
    with chat_records(app) as records:
        ledger = records.ledger
        beta = ledger.create_workspace(f"beta-{uuid.uuid4().hex[:4]}", "Beta")
        ledger.add_member(beta.id, records.member_id, "member")
        ledger.grant(beta.account_id, credits(500), kind="paid", key=f"grant-{beta.id}")
        beta_before = ledger.balance(beta.account_id).available
        demo_before = records.available()

        sign_in(page, app, MEMBER)
        choose_workspace(page, "Demo workspace")
        text = f"Write a long note about tides {uuid.uuid4().hex[:6]}"
        replies_before = assistant_messages(page).count()
        send_chat(page, text)
        stop_button(page).wait_for()
        assistant_messages(page).nth(replies_before).get_by_text(re.compile("Demo")).wait_for()

        choose_workspace(page, "Beta")
        main = page.get_by_test_id("stMainBlockContainer")
        assert main.get_by_test_id("stAlert").count() == 0, main.inner_text()
        assert main.get_by_text(text).count() == 0
        assert ledger.balance(beta.account_id).available == beta_before
        assert all(h.account_id == records.account_id for h in records.holds())

        [conversation] = [c for c in records.conversations() if c.title == text]
        assert conversation.workspace_id == ledger.workspace("demo").id
        _question, reply = records.messages(conversation.id)
        assert reply.status == "cancelled"
        [usage] = [u for u in records.usage() if u.hold_id == reply.hold_id]
        assert usage.status == "cancelled"
        assert demo_before - records.available() == usage.credits

        choose_workspace(page, "Demo workspace")
        assert main.get_by_test_id("stAlert").count() == 0, main.inner_text()
        conversation_button(page, text).click()
        wait_settled(page)
        caption = assistant_messages(page).last.get_by_test_id("stCaptionContainer")
        assert caption.inner_text().startswith("stopped — ")
        assert len(records.holds()) == len(records.usage())
        assert demo_before - records.available() == usage.credits
