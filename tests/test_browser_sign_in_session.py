"""Local sign-in keeps a server-side session behind a cookie: a reload or a new tab stays signed
in, and signing out in one tab ends the other (at its next click, and for good on reload)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser_harness import (
    MEMBER,
    AppServer,
    app_fixture,
    browser_fixture,
    heading_1,
    page_fixture,
    sidebar,
    sign_in,
    sign_in_form,
    sign_out_button,
    wait_settled,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

app = app_fixture()
browser = browser_fixture()
page = page_fixture()


def test_a_reload_and_a_new_tab_stay_signed_in(app: AppServer, page: Page) -> None:
    sign_in(page, app, MEMBER, "credits")
    assert heading_1(page) == ["My credits"]

    page.reload()
    sign_out_button(page).wait_for()
    wait_settled(page)
    assert heading_1(page) == ["My credits"]

    tab = page.context.new_page()
    tab.goto(f"{app.url}/usage")
    sign_out_button(tab).wait_for()
    wait_settled(tab)
    assert heading_1(tab) == ["Usage analytics"]
    assert sign_in_form(tab).count() == 0


def test_signing_out_in_one_tab_ends_the_other(app: AppServer, page: Page) -> None:
    sign_in(page, app, MEMBER)
    other = page.context.new_page()
    other.goto(f"{app.url}/credits")
    sign_out_button(other).wait_for()
    wait_settled(other)

    sign_out_button(page).click()
    page.get_by_text("You are signed out").wait_for()

    # The other tab's next click finds the session gone: nothing of the person's is left.
    sidebar(other).get_by_test_id("stSidebarNavLink").filter(has_text="Chat").click()
    other.get_by_text("You are signed out").wait_for()
    wait_settled(other)
    assert sign_out_button(other).count() == 0
    assert heading_1(other) == ["Sign in to the workbench"]
    # A reload goes to the sign-in form, and its link does too.
    other.reload()
    sign_in_form(other).wait_for()
    href = page.get_by_role("link", name="Sign in").get_attribute("href") or ""
    assert href.startswith("/auth/sign-in?next=/")
    page.goto(f"{app.url}{href}")
    sign_in_form(page).wait_for()
