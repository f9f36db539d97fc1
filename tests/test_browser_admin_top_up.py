"""An operator tops up the demo workspace on Credit admin, in a real browser; a member's sidebar,
open in another browser context, shows the new balance by its own refresh (every 5 s, the
product's default), without a click. Confirm clicked twice grants once."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from ledger.amounts import credits
from tests.browser_harness import (
    ADMIN,
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    app_fixture,
    available_credits,
    browser_fixture,
    go,
    new_page,
    page_fixture,
    sign_in,
    wait_for_credits,
    wait_settled,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture(balance_refresh_s=5.0)
browser = browser_fixture()
page = page_fixture()

TOP_UP = "1,250.5"


def review_top_up(page: Page, amount: str, reason: str) -> None:
    page.get_by_role("tab", name="Credits").click()
    form = page.get_by_test_id("stForm").filter(has_text="Review top-up")
    form.get_by_label("Amount (credits)").fill(amount)
    form.get_by_label("Reason (for the audit trail)").fill(reason)
    form.get_by_role("button", name="Review top-up").click()


def test_an_operators_top_up_reaches_a_members_sidebar(
    app: AppServer, page: Page, browser: Browser
) -> None:
    member = new_page(browser)  # another browser context: another person's session
    try:
        sign_in(member, app, MEMBER)
        before = available_credits(member)

        sign_in(page, app, ADMIN)  # the first admin is an operator
        go(page, "admin_credits")
        review_top_up(page, TOP_UP, "quarterly budget")
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Balance after").wait_for()
        # A double click: both clicks reach the button before the dialog closes; they carry
        # the same key, so at most one grant. (A second click after "is it still visible?"
        # raced the dialog closing on a fast server and waited for a button that was gone.)
        dialog.get_by_role("button", name="Confirm").dblclick()
        dialog.wait_for(state="hidden")
        wait_settled(page)

        after = wait_for_credits(member, lambda value: value != before, timeout_s=10)
        assert after == before + credits(TOP_UP.replace(",", ""))
        # The operator's own sidebar says the same, and nothing was granted twice.
        assert wait_for_credits(page, lambda value: value == after, timeout_s=10) == after
        assert "the books balance" in app.cli("ledger", "verify")
        history = app.cli("ledger", "history", "demo", "--kind", "grant")
        assert history.count("+1,250.5") == 1, history
    finally:
        member.context.close()
