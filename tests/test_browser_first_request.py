"""An admin-only URL as the very first request a freshly started server gets, from a member.

The first run of a process is the one where caches, the app's services and Streamlit's page
registry are all cold, so that is when an admin-only page could slip out before the role check.
This module starts its own server and waits for it without any HTTP request (the harness's
health probe is off: only the console's password line and a bare TCP connect), so the member's
``/admin_credits`` is the first HTTP request and the first page load the server ever serves.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser_harness import (
    ADMIN,
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    app_fixture,
    assert_no_page_not_found,
    browser_fixture,
    go,
    heading_1,
    nav_titles,
    page_fixture,
    sign_in,
    sign_in_form,
    sign_out_button,
    submit_sign_in,
    text_seen,
    wait_settled,
    watch_for_text,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture(probe_health=False)
browser = browser_fixture()
page = page_fixture()

# Only the Credit admin page shows these (the first is its section heading, the second its
# title and its navigation entry); a member's document must never contain either, even briefly.
ADMIN_ONLY_TEXT = ("Recent usage", "Credit admin")
ADMINS_ONLY_ERROR = "This page is for workspace admins and operators."


def test_member_opening_admin_credits_first_thing_sees_no_admin_content(
    app: AppServer, page: Page
) -> None:
    assert not app.probed, "the harness sent an HTTP request to this server before the test"
    watch_for_text(page, *ADMIN_ONLY_TEXT)

    page.goto(f"{app.url}/admin_credits")  # the server's first HTTP request and page load
    sign_in_form(page).wait_for()  # signed out, every page's URL goes to the sign-in form
    submit_sign_in(page, MEMBER, app.member_password)
    sign_out_button(page).wait_for()
    wait_settled(page)
    page.wait_for_timeout(1_000)  # time for anything late to show up

    # Sent to the default page, rather than to the "Page not found" dialog or the refusal.
    assert heading_1(page) == ["Chat"], f"member landed on {heading_1(page)} at {page.url}"
    assert page.url == f"{app.url}/", page.url
    assert_no_page_not_found(page)
    assert not page.get_by_text(ADMINS_ONLY_ERROR).is_visible()
    assert "Credit admin" not in nav_titles(page)
    assert text_seen(page) == [], f"admin-only text reached the member's page: {text_seen(page)}"


def test_admin_sees_and_opens_credit_admin(app: AppServer, page: Page) -> None:
    watch_for_text(page, *ADMIN_ONLY_TEXT)
    sign_in(page, app, ADMIN, "admin_credits")

    # The first admin is also an operator: the Pricing & features page is theirs too.
    assert nav_titles(page) == [
        "Chat",
        "Images",
        "My credits",
        "Usage analytics",
        "Credit admin",
        "Pricing & features",
    ]
    go(page, "admin_credits")
    page.get_by_role("tab", name="Recent usage").click()
    page.get_by_role("heading", name="Recent usage").wait_for()
    # The same watcher that found nothing for the member does see an admin's page.
    assert sorted(text_seen(page)) == sorted(ADMIN_ONLY_TEXT)
