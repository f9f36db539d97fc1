"""The Images page in Chromium with a full gallery (30 calls made through the gateway on the demo
model): changing the size, quality or prompt reruns the request form only (the server ends each
of those runs as a fragment's, sends no image element and the browser fetches no image), Older
pages to the older calls, and a deleted image leaves the page and its URL answers 404.

The browser's own cache would hide a full rerun from a count of image requests alone (the URLs
do not change), so the messages the app's websocket brings are read as well."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.browser_harness import (
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    app_fixture,
    browser_fixture,
    gallery_entry,
    gallery_images,
    go,
    images_loaded,
    page_fixture,
    sign_in,
    toasts,
    wait_settled,
)
from tests.images_harness import NO_RATE_LIMIT, seed_server_images

if TYPE_CHECKING:
    from playwright.sync_api import Page, WebSocket

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture(extra_env=NO_RATE_LIMIT)
browser = browser_fixture()
page = page_fixture()

IMAGE_ROUTE = "/files/images/"


@pytest.fixture(scope="module")
def seeded(app: AppServer) -> AppServer:
    seed_server_images(app, MEMBER, [f"Call {n:02d}" for n in range(1, 31)])
    return app


def watch_image_requests(page: Page) -> list[str]:
    """Every request to the app's image route from now on."""
    seen: list[str] = []
    page.on(
        "request", lambda request: seen.append(request.url) if IMAGE_ROUTE in request.url else None
    )
    return seen


def watch_runs(page: Page) -> list[ForwardMsg]:
    """Every message the app's websocket brings the page from now on (register before the
    page loads)."""
    received: list[ForwardMsg] = []

    def on_frame(payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            message = ForwardMsg()
            message.ParseFromString(payload)
            received.append(message)

    def on_socket(socket: WebSocket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            socket.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    return received


def summary(messages: list[ForwardMsg]) -> tuple[set[str], list[str]]:
    """How the runs among ``messages`` ended, and the kinds of element they sent (a reference to
    an element the browser has cached counts as one, of kind "ref")."""
    ends = {
        ForwardMsg.ScriptFinishedStatus.Name(m.script_finished)
        for m in messages
        if m.WhichOneof("type") == "script_finished"
    }
    kinds = [
        "ref"
        if m.WhichOneof("type") == "ref_hash"
        else m.delta.new_element.WhichOneof("type") or ""
        for m in messages
        if m.WhichOneof("type") == "ref_hash"
        or (m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element")
    ]
    return ends, kinds


def wait_images(page: Page, count: int) -> None:
    """The gallery shows ``count`` images, each arrived and decoded."""
    for _ in range(200):
        if gallery_images(page).count() == count and images_loaded(page):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{gallery_images(page).count()} images shown, {count} expected")


def choose(page: Page, label: str, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()


def estimate(page: Page, shown: str) -> None:
    page.get_by_test_id("stCaptionContainer").filter(has_text=shown).wait_for()
    wait_settled(page)


def test_the_form_fetches_no_image_the_gallery_pages_and_a_delete_is_gone(
    seeded: AppServer, page: Page
) -> None:
    requests = watch_image_requests(page)
    runs = watch_runs(page)
    sign_in(page, seeded, MEMBER)
    go(page, "images")
    wait_images(page, 24)
    assert len(requests) >= 24  # the counter sees the gallery's own fetches
    assert gallery_entry(page, "Call 30").count() == 1
    assert gallery_entry(page, "Call 06").count() == 0

    fetched, heard = len(requests), len(runs)
    choose(page, "Size", "512x512")
    estimate(page, "1 × 512x512 standard")
    choose(page, "Size", "1024x1024")
    estimate(page, "1 × 1024x1024 ")
    choose(page, "Quality", "hd")
    estimate(page, "1 × 1024x1024 hd")
    choose(page, "Quality", "standard")
    estimate(page, "1 × 1024x1024 standard")
    page.get_by_role("textbox", name="Describe the image").fill("Not sent yet")
    page.get_by_role("textbox", name="Describe the image").blur()
    wait_settled(page)
    assert requests[fetched:] == []
    ends, kinds = summary(runs[heard:])
    assert ends == {"FINISHED_FRAGMENT_RUN_SUCCESSFULLY"}
    assert "selectbox" in kinds  # the form was sent again
    assert [kind for kind in kinds if kind in ("imgs", "link_button", "text", "ref")] == []
    assert gallery_images(page).count() == 24

    page.get_by_role("button", name="Older").click()
    gallery_entry(page, "Call 06").wait_for()
    wait_images(page, 6)
    assert gallery_entry(page, "Call 30").count() == 0
    assert gallery_entry(page, "Call 01").count() == 1
    assert len(requests) > fetched  # the older page's images were fetched

    entry = gallery_entry(page, "Call 01")
    src = entry.get_by_test_id("stImage").locator("img").get_attribute("src")
    assert src and IMAGE_ROUTE in src
    assert page.request.get(src).status == 200
    entry.get_by_role("button", name="Delete").click()
    page.get_by_text("Delete this image for good?").wait_for()
    page.get_by_role("button", name="Delete for good").click()
    page.get_by_test_id("stToast").filter(has_text="1 image deleted.").wait_for()
    wait_settled(page)
    wait_images(page, 5)
    assert gallery_entry(page, "Call 01").count() == 0
    assert any(re.fullmatch(r".*1 image deleted\..*", t, re.S) for t in toasts(page))
    assert page.request.get(src).status == 404
