"""Chat's daily-work controls in a real browser, against the offline demo model: regenerate the
last reply, edit a question and send it again, copy a message's exact text to the clipboard,
search the conversation list by what was said, delete a conversation with an Undo that goes by
itself, export it as a Markdown download, attach files (and have a bad one refused before
anything is charged), and, in a workspace with no credits, be told before typing that the next
message would not be sent, with a link to My credits.

One server for the module (the demo workspace's credits are shared by the tests, so each reads
its own before and after from the app's database); a fresh browser context, so a fresh Streamlit
session with no conversation open, per test.
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

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
    chat_once,
    heading_1,
    page_fixture,
    send_chat,
    sidebar,
    sign_in,
    wait_for_credits,
    wait_settled,
)
from tests.chat_browser_harness import (
    ChatRecords,
    attach_files,
    attachment_rows,
    chat_records,
    conversation_button,
    demo_reply,
    keyed,
    listed_conversations,
    open_chat_settings,
    open_popover,
    sign_in_with,
    user_messages,
    wait_until,
)
from tests.fake_providers import SVG
from workbench.chat.conversation_menu import UNDO_S
from workbench.gateway.providers import demo

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture(stream_delay_s=0.0)
browser = browser_fixture()
page = page_fixture()

SYSTEM = "Answer in one short paragraph."
FOLLOWING = "I am following your instructions"
# The notice lasts UNDO_S; its fragment redraws every second: ample time past that for it to go.
UNDO_GONE_MS = int((UNDO_S + 10) * 1000)


def tag() -> str:
    return uuid.uuid4().hex[:6]


def conversation_titled(records: ChatRecords, title: str) -> Any:
    [conversation] = [c for c in records.conversations() if c.title == title]
    return conversation


def wait_replaced(page: Page, records: ChatRecords, conversation_id: int, old: Any) -> list[Any]:
    """The conversation's messages once a resend's reply (a hold other than ``old``'s) is saved,
    and the page has drawn it: its Stop button gone, the run over. Rows are told apart by their
    hold, not their id: SQLite may give the new rows the ids the removed ones had."""
    saved: list[Any] = wait_until(
        page,
        lambda: records.messages(conversation_id),
        lambda rows: (
            len(rows) == 2 and rows[-1].hold_id != old.hold_id and rows[-1].credits is not None
        ),
    )
    expect(page.locator('[class*="st-key-stop-"]')).to_have_count(0)
    wait_settled(page)
    return saved


def reply_caption(page: Page) -> str:
    return assistant_messages(page).get_by_test_id("stCaptionContainer").inner_text().strip()


def set_system_prompt(page: Page, text: str) -> None:
    """Type a system prompt in the settings control and apply it (saved on the open
    conversation); the control's label then says a system prompt is set."""
    open_chat_settings(page)
    box = page.get_by_role("textbox", name="System prompt (optional)")
    box.fill(text)
    box.press("Control+Enter")
    keyed(page, "chat_settings").get_by_role(
        "button", name=re.compile("· system prompt")
    ).wait_for()
    page.keyboard.press("Escape")
    wait_settled(page)


def test_regenerate_replaces_the_last_reply_and_charges_both_calls(
    app: AppServer, page: Page
) -> None:
    sign_in(page, app, MEMBER)
    question = f"Name a river in France {tag()}"
    with chat_records(app) as records:
        available_before, usage_before = records.available(), len(records.usage())
        chat_once(page, question)
        conversation = conversation_titled(records, question)
        _asked, old = records.messages(conversation.id)
        # The demo model answers the same conversation with the same words: with a system
        # prompt set since, the new reply says so, and tells itself apart on the page.
        set_system_prompt(page, SYSTEM)
        assert conversation_titled(records, question).system_prompt == SYSTEM
        assert FOLLOWING not in old.content

        keyed(page, f"regenerate-{old.id}").get_by_role("button").click()
        saved = wait_replaced(page, records, conversation.id, old)

        # The database: the question and the new reply only, each reply a call of its own.
        new_reply = demo.reply_for(
            ({"role": "system", "content": SYSTEM}, {"role": "user", "content": question})
        )
        assert FOLLOWING in new_reply
        assert [(m.role, m.content) for m in saved] == [
            ("user", question),
            ("assistant", new_reply),
        ]
        new = saved[-1]
        usage = records.usage()[usage_before:]
        assert [u.status for u in usage] == ["ok", "ok"]
        assert [u.hold_id for u in usage] == [old.hold_id, new.hold_id]
        assert new.credits == usage[-1].credits > 0
        assert available_before - records.available() == usage[0].credits + usage[1].credits

        # The page: one question and one reply, the new one, its caption saying what the new
        # call cost.
        assert user_messages(page).count() == 1
        expect(assistant_messages(page)).to_have_count(1)
        expect(assistant_messages(page).get_by_test_id("stChatMessageContent")).to_contain_text(
            FOLLOWING
        )
        tokens = f"{new.input_tokens:,} → {new.output_tokens:,} tokens"
        expected = re.escape(f"{credits_text(new.credits)} · {tokens} · ") + r"\d+\.\d s"
        assert re.fullmatch(expected, reply_caption(page)), reply_caption(page)
        # The sidebar's balance: after both charges.
        balance = as_micros(format_credits(records.available()))
        assert wait_for_credits(page, lambda value: value == balance) == balance


def test_edit_and_resend_replaces_the_question_and_its_reply(app: AppServer, page: Page) -> None:
    sign_in(page, app, MEMBER)
    first = f"Suggest a name for a grey cat {tag()}"
    edited = f"Suggest a name for a ginger kitten {tag()}"
    with chat_records(app) as records:
        chat_once(page, first)
        conversation = conversation_titled(records, first)
        asked, old = records.messages(conversation.id)
        usage_before = len(records.usage())

        # Settled first: the rerun after the saved reply redraws the message and its popover.
        wait_settled(page)
        body = open_popover(page, f"edit-{asked.id}")
        box = body.get_by_role("textbox", name="Your message")
        expect(box).to_have_value(first)
        box.fill(edited)
        body.get_by_role("button", name="Send edited message").click()
        saved = wait_replaced(page, records, conversation.id, old)

        assert [(m.role, m.content) for m in saved] == [
            ("user", edited),
            ("assistant", demo_reply(edited)),
        ]
        [usage] = records.usage()[usage_before:]
        assert (usage.status, usage.hold_id, usage.credits) == (
            "ok",
            saved[-1].hold_id,
            saved[-1].credits,
        )
        # The page shows the edited question and its reply, nothing of the old turn.
        assert user_messages(page).count() == 1
        assert assistant_messages(page).count() == 1
        assert user_messages(page).get_by_text(edited).count() == 1
        main = page.get_by_test_id("stMainBlockContainer")
        assert main.get_by_text(first).count() == 0
        assert reply_caption(page).startswith(credits_text(usage.credits) + " · ")
        assert conversation_button(page, first).count() == 1  # the same conversation, kept


def test_copy_puts_the_message_s_exact_text_on_the_clipboard(app: AppServer, page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    sign_in(page, app, MEMBER)
    typed = f"Explain **bold** and `code` in *Markdown* {tag()}"
    with chat_records(app) as records:
        chat_once(page, typed)
        asked, reply = records.messages(conversation_titled(records, typed).id)
    assert "**" in reply.content and "```text" in reply.content  # Markdown source to copy

    for message in (asked, reply):
        body = open_popover(page, f"copy-{message.id}")
        code = body.get_by_test_id("stCode")
        assert code.locator("code").inner_text().rstrip("\n") == message.content
        code.hover()
        # Streamlit 1.67's copy button: the code block's toolbar button (no stCodeCopyButton).
        code.get_by_role("button", name="Copy to clipboard").click()
        copied = page.evaluate("() => navigator.clipboard.readText()")
        assert copied == message.content
        page.keyboard.press("Escape")
        body.wait_for(state="detached")


def test_search_lists_only_the_conversations_that_hold_the_words(
    app: AppServer, page: Page
) -> None:
    sign_in(page, app, MEMBER)
    topic = tag()
    picnic, hike = f"Plan a picnic {topic}", f"Plan a hike {topic}"
    needle = f"lemonade{tag()}"  # said only in the picnic's second message, not its title
    chat_once(page, picnic)
    chat_once(page, f"Remember the {needle} please")
    sidebar(page).get_by_role("button", name="New conversation").click()
    wait_settled(page)
    chat_once(page, hike)

    search = sidebar(page).get_by_role("textbox", name="Search conversations")
    search.fill(needle)
    search.press("Enter")
    expect(listed_conversations(page)).to_have_count(1)
    assert conversation_button(page, picnic).is_visible()

    search.fill(topic)  # both titles
    search.press("Enter")
    expect(listed_conversations(page)).to_have_count(2)
    assert conversation_button(page, hike).is_visible()

    search.fill(f"zebra crossing {topic}")
    search.press("Enter")
    expect(listed_conversations(page)).to_have_count(0)
    assert sidebar(page).get_by_text("No conversation matches that.").is_visible()

    # A match opens with its messages.
    search.fill(needle)
    search.press("Enter")
    expect(listed_conversations(page)).to_have_count(1)
    conversation_button(page, picnic).click()
    wait_settled(page)
    assert user_messages(page).count() == 2
    assert user_messages(page).nth(1).get_by_text(needle).count() == 1


def delete_open_conversation(page: Page) -> None:
    body = open_popover(page, "conversation_menu")
    body.get_by_role("button", name="Delete conversation").click()
    page.get_by_test_id("stMainBlockContainer").get_by_role(
        "button", name="Delete", exact=True
    ).click()


def test_delete_offers_undo_which_brings_it_back_and_then_goes_by_itself(
    app: AppServer, page: Page
) -> None:
    sign_in(page, app, MEMBER)
    title = f"Plan the team offsite {tag()}"
    undo = page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Undo")
    with chat_records(app) as records:
        chat_once(page, title)
        conversation = conversation_titled(records, title)
        messages = records.messages(conversation.id)
        usage, balance = records.usage(), records.available()

        delete_open_conversation(page)
        undo.wait_for()
        expect(conversation_button(page, title)).to_have_count(0)
        assert page.get_by_text(f"Deleted “{title}”.").is_visible()
        assert conversation_titled(records, title).deleted_at is not None
        expect(assistant_messages(page)).to_have_count(0)

        undo.click()
        expect(conversation_button(page, title)).to_have_count(1)
        undo.wait_for(state="detached")
        wait_settled(page)
        assert conversation_titled(records, title).deleted_at is None
        assert records.messages(conversation.id) == messages
        assert user_messages(page).get_by_text(title).count() == 1
        assert assistant_messages(page).count() == 1

        # Deleted again and left alone: the Undo goes by itself, the conversation stays gone.
        delete_open_conversation(page)
        undo.wait_for()
        undo.wait_for(state="detached", timeout=UNDO_GONE_MS)
        assert page.get_by_text(f"Deleted “{title}”.").count() == 0
        assert conversation_button(page, title).count() == 0
        assert conversation_titled(records, title).deleted_at is not None
        # The money history is untouched all along.
        assert (records.usage(), records.available()) == (usage, balance)


def test_export_downloads_the_conversation_as_markdown(
    app: AppServer, page: Page, tmp_path: Path
) -> None:
    sign_in(page, app, MEMBER)
    question = f"Compare tabs and spaces {tag()}"
    with chat_records(app) as records:
        chat_once(page, question)
        conversation = conversation_titled(records, question)
        _asked, reply = records.messages(conversation.id)

    body = open_popover(page, "conversation_menu")
    with page.expect_download() as started:
        body.get_by_role("button", name="Export as Markdown").click()
    download = started.value
    assert download.suggested_filename.endswith(f"-{conversation.id}.md"), (
        download.suggested_filename
    )
    saved = tmp_path / "export.md"
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert question in text
    assert reply.content in text
    assert f"*Cost: {credits_text(reply.credits)}*" in text


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_attached_files_go_with_the_message_and_a_bad_one_is_refused_uncharged(
    app: AppServer, page: Page, tmp_path: Path
) -> None:
    picture, notes = tmp_path / "red-square.png", tmp_path / "notes.md"
    picture.write_bytes(png_bytes())
    notes.write_text("# Notes\n\n- buy milk\n- call Bob\n", encoding="utf-8")
    typed = f"What is in the picture and my notes {tag()}"
    sign_in(page, app, MEMBER)
    with chat_records(app) as records:
        attach_files(page, [picture, notes])
        chat_once(page, typed)
        conversation = conversation_titled(records, typed)
        asked, reply = records.messages(conversation.id)
        kept = attachment_rows(records, asked.id)
        assert [(a.name, a.kind) for a in kept] == [
            ("red-square.png", "image"),
            ("notes.md", "text"),
        ]
        assert kept[0].data == picture.read_bytes()
        mine = user_messages(page).first.get_by_test_id("stCaptionContainer")
        assert any("red-square.png" in c for c in mine.all_inner_texts()), mine.all_inner_texts()
        assert any("notes.md" in c for c in mine.all_inner_texts()), mine.all_inner_texts()
        assert "notes.md" in reply.content  # the demo says what it received

        # A drawing passed off as a PNG: refused with its sentence; nothing held or charged.
        drawing = tmp_path / "drawing.png"
        drawing.write_text(SVG, encoding="utf-8")
        before = (records.usage(), records.holds(), records.available())
        conversations = len(records.conversations())
        attach_files(page, [drawing])
        send_chat(page, "And this one?")
        alert = page.get_by_test_id("stAlert").filter(has_text="drawing.png")
        alert.wait_for()
        wait_settled(page)
        assert (
            alert.inner_text().strip().startswith("drawing.png is not a picture chat can read")
        ), alert.inner_text()
        assert (records.usage(), records.holds(), records.available()) == before
        assert records.messages(conversation.id) == [asked, reply]
        assert len(records.conversations()) == conversations
        assert page.get_by_test_id("stCode").filter(has_text="And this one?").count() == 1

        # A type chat does not take: uploaded (the message box limits no type, so the browser
        # cannot drop it and send the text alone), refused with its sentence; nothing charged.
        program = tmp_path / "setup.exe"
        program.write_bytes(b"MZ\x90\x00" + bytes(100))
        attach_files(page, [program])
        send_chat(page, "Run this program")
        alert = page.get_by_test_id("stAlert").filter(has_text="setup.exe")
        alert.wait_for()
        wait_settled(page)
        assert "is not a file type chat accepts" in alert.inner_text(), alert.inner_text()
        assert (records.usage(), records.holds(), records.available()) == before
        assert records.messages(conversation.id) == [asked, reply]
        assert len(records.conversations()) == conversations
        assert page.get_by_test_id("stCode").filter(has_text="Run this program").count() == 1


def test_with_no_credits_the_page_says_so_before_typing_and_links_to_my_credits(
    app: AppServer, page: Page
) -> None:
    slug, username, password = f"empty-{tag()}", f"broke_{tag()}", f"pw-{uuid.uuid4().hex}"
    with chat_records(app) as records:
        empty = records.ledger.create_workspace(slug, "Empty workspace")
        app.cli("auth", "add-user", username, slug, stdin=password)
        sign_in_with(page, app, username, password)
        assert available_credits(page) == 0
        said = re.compile(
            r"The next message needs about [\d,.]+ credits?; this workspace has 0 credits "
            r"available, so it would not be sent\."
        )
        expect(page.get_by_test_id("stCaptionContainer").filter(has_text=said)).to_have_count(1)
        assert records.ledger.balance(empty.account_id).available == 0

        main = page.get_by_test_id("stMainBlockContainer")
        main.get_by_role("link", name="My credits: balance, spending cap and history").click()
        page.wait_for_url(re.compile(r"/credits$"))
        page.get_by_role("heading", name="My credits", level=1).wait_for()
        wait_settled(page)
        assert heading_1(page) == ["My credits"]
        assert records.ledger.balance(empty.account_id).available == 0
