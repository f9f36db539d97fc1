"""The sidebar's balance fragment in a real browser: it re-reads the ledger on its own timer, so
credits granted elsewhere show up without a click; and it dies with a sign-out even while its
timer fires every 0.2 s (a regression test: when the signed-out run ended with ``st.stop()``, the
fragment outlived it and its next timed run crashed the page with "Bad delta path index")."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError

from ledger.amounts import credits
from tests.browser_harness import (
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    app_fixture,
    available_credits,
    browser_fixture,
    new_page,
    page_fixture,
    sign_in,
    sign_in_form,
    sign_out_button,
    submit_sign_in,
    wait_for_credits,
    watch_page_errors,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture(balance_refresh_s=1.0)
busy_app = app_fixture("busy_app", balance_refresh_s=0.2)
browser = browser_fixture()
page = page_fixture()


def test_credits_granted_elsewhere_show_up_without_a_click(app: AppServer, page: Page) -> None:
    sign_in(page, app, MEMBER)
    before = available_credits(page)

    app.cli("ledger", "grant", "demo", "1234", "--reason", "browser test")

    after = wait_for_credits(page, lambda value: value != before, timeout_s=10)
    assert after == before + credits(1_234)


def test_sign_out_while_the_balance_refreshes_often(busy_app: AppServer, browser: Browser) -> None:
    """Three sign-outs with the fragment's timer at 0.2 s: each must leave the signed-out page
    with no frontend error (the balance fragment must not outlive the sign-out)."""
    for attempt in range(3):
        tab = new_page(browser)
        errors = watch_page_errors(tab)
        try:
            tab.goto(busy_app.url)
            sign_in_form(tab).wait_for()
            submit_sign_in(tab, MEMBER, busy_app.member_password)
            sign_out_button(tab).wait_for()
            time.sleep(1.5)  # the fragment's timer is running now
            sign_out_button(tab).click()
            try:
                tab.get_by_text("You are signed out").wait_for(timeout=10_000)
                signed_out = True
            except PlaywrightError:
                signed_out = False
            assert not errors, f"attempt {attempt + 1}: the frontend threw {errors}"
            assert signed_out, f"attempt {attempt + 1}: still signed in 10 s after Sign out"
        finally:
            tab.context.close()
