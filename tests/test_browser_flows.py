"""The app in a real browser: a member chats (the reply streams in, the sidebar's credits go
down by what was charged), generates an image (it shows under "Your images"), and signs out.

One server for the module (its own SQLite file); a fresh browser context, so a fresh Streamlit
session, per test. The balance fragment's timer is set to its longest period here: the sidebar
still redraws with every full run, which is all these tests need (see
test_browser_balance_refresh.py for the timer itself).
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page

from ledger.amounts import credits
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
    gallery_entry,
    gallery_images,
    generate_image,
    go,
    heading_1,
    images_loaded,
    nav_titles,
    page_fixture,
    record_replies,
    recorded_replies,
    send_chat,
    sidebar,
    sign_in,
    sign_in_form,
    sign_out_button,
    toasts,
    wait_chat_reply_saved,
    wait_for_credits,
    wait_settled,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture(stream_delay_s=0.02)
browser = browser_fixture()
page = page_fixture()


def test_member_chat_reply_streams_and_is_charged(app: AppServer, page: Page) -> None:
    sign_in(page, app, MEMBER)
    assert heading_1(page) == ["Chat"], "the default page after signing in is Chat"
    assert nav_titles(page) == ["Chat", "Images", "My credits", "Usage analytics"], (
        "a member sees no admin page"
    )
    next_message = re.compile(r"Next message: about [\d,]+(\.\d+)? credits?")
    assert page.get_by_text(next_message).is_visible()
    before = available_credits(page)
    replies_before = assistant_messages(page).count()

    record_replies(page)
    send_chat(page, "Tell me about lighthouses and the sea")
    reply = wait_chat_reply_saved(page, replies_before)

    final = reply.get_by_test_id("stChatMessageContent").inner_text().strip()
    assert "Demo model" in final and "lighthouses" in final, final
    seen = recorded_replies(page)
    # The reply arrived in pieces: the browser showed it partly written, growing, before the end.
    partial = [text for text in seen if len(text) < len(final) and "Demo" in text]
    assert len(partial) >= 3, f"no partial replies seen before the final one: {seen}"
    lengths = [len(text) for text in partial]
    assert lengths[-1] > lengths[0], f"the streamed reply did not grow: {lengths}"

    # What it cost is the reply's own caption (credits · tokens · time), not a toast.
    caption = reply.get_by_test_id("stCaptionContainer").first.inner_text()
    charged = re.match(r"([\d,.]+) credits? · [\d,]+ → [\d,]+ tokens · \d+\.\d s", caption)
    assert charged, f"no cost caption under the reply: {caption!r}"
    assert not any("charged" in toast for toast in toasts(page))
    cost = as_micros(charged.group(1))
    assert 0 < cost < credits(1), "a short answer costs a fraction of a credit, not a whole one"
    after = wait_for_credits(page, lambda value: value < before)
    # Both are shown rounded (the balance to a hundredth, the cost to three digits).
    assert after > 0 and abs(before - cost - after) <= credits("0.01") + cost // 100, (
        before,
        cost,
        after,
    )
    assert (
        page.get_by_test_id("stChatMessage")
        .filter(has=page.get_by_test_id("stChatMessageAvatarUser"))
        .filter(has_text="Tell me about lighthouses and the sea")
        .count()
        == 1
    )


def test_member_generates_an_image_that_shows_in_the_gallery(app: AppServer, page: Page) -> None:
    sign_in(page, app, MEMBER)
    go(page, "images")
    assert page.get_by_role("heading", name="Your images").is_visible()
    prompt = f"A lighthouse at dusk {uuid.uuid4().hex[:6]}"
    assert gallery_entry(page, prompt).count() == 0
    images_before = gallery_images(page).count()
    before = available_credits(page)

    generate_image(page, prompt)

    entry = gallery_entry(page, prompt)
    assert entry.count() == 1 and "demo/images" in entry.inner_text(), entry.all_inner_texts()
    assert gallery_images(page).count() == images_before + 1
    assert images_loaded(page), "an image in the gallery did not load"
    # "Your images" comes after the form: the new entry is under that heading.
    heading_box = page.get_by_role("heading", name="Your images").bounding_box()
    entry_box = entry.bounding_box()
    assert heading_box and entry_box and entry_box["y"] > heading_box["y"]
    charged = re.search(r"1 image for ([\d,.]+) credits?", " ".join(toasts(page)))
    assert charged, f"no charge toast: {toasts(page)}"
    after = wait_for_credits(page, lambda value: value < before)
    assert after == before - as_micros(charged.group(1))  # whole credits: exact as shown


def test_sign_out_leaves_only_the_way_back_to_the_sign_in_form(app: AppServer, page: Page) -> None:
    sign_in(page, app, MEMBER)
    go(page, "credits")
    assert sign_in_form(page).count() == 0

    sign_out_button(page).click()

    page.get_by_text("You are signed out").wait_for()
    wait_settled(page)
    assert heading_1(page) == ["Sign in to the workbench"]
    assert sign_out_button(page).count() == 0
    assert sidebar(page).get_by_test_id("stMetric").count() == 0, "credits still on show"
    assert page.get_by_role("heading", name="My credits").count() == 0
