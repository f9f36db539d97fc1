"""A bookmarked page's URL opened while signed out: the sign-in form answers at that URL (no
"Page not found" dialog), and signing in lands on the page that was asked for, if the role allows
it; a member asking for an admin page lands on Chat instead. Chat's own URL, ``/chat`` (the
default page, which Streamlit serves at ``/`` only), opens Chat at ``/``, signed in or not."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from tests.browser_harness import (
    ADMIN,
    CHROMIUM,
    MEMBER,
    NAV_TITLES,
    NO_CHROMIUM,
    AppServer,
    app_fixture,
    assert_no_page_not_found,
    browser_fixture,
    heading_1,
    page_fixture,
    sign_in,
    wait_settled,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture()
browser = browser_fixture()
page = page_fixture()


@pytest.mark.parametrize(
    ("username", "url_path"),
    [
        (MEMBER, "images"),
        (MEMBER, "credits"),
        (MEMBER, "usage"),
        (ADMIN, "usage"),
        (ADMIN, "admin_credits"),
        (ADMIN, "admin_pricing"),
    ],
)
def test_signing_in_lands_on_the_page_asked_for(
    app: AppServer, page: Page, username: str, url_path: str
) -> None:
    sign_in(page, app, username, url_path)  # asserts no "Page not found" on the way
    page.get_by_role("heading", name=NAV_TITLES[url_path], level=1).wait_for()
    assert heading_1(page) == [NAV_TITLES[url_path]]
    assert re.search(rf"/{url_path}$", page.url), page.url


@pytest.mark.parametrize("url_path", ["admin_credits", "admin_pricing"])
def test_member_asking_for_an_admin_page_lands_on_chat(
    app: AppServer, page: Page, url_path: str
) -> None:
    sign_in(page, app, MEMBER, url_path)
    assert heading_1(page) == ["Chat"]
    assert page.url == f"{app.url}/", page.url
    assert page.get_by_text("Recent usage").count() == 0


def test_chats_own_url_lands_on_chat_at_the_root(app: AppServer, page: Page) -> None:
    sign_in(page, app, MEMBER, "chat?from=bookmark")
    assert heading_1(page) == ["Chat"]
    assert page.url == f"{app.url}/?from=bookmark", page.url

    page.goto(f"{app.url}/chat")  # signed in now: straight there
    page.get_by_role("heading", name="Chat", level=1).wait_for()
    wait_settled(page)
    assert_no_page_not_found(page)
    assert page.url == f"{app.url}/", page.url
