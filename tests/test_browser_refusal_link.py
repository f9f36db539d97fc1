"""A refusal's link to My credits keeps the person signed in: it is an in-app page link, so the
same Streamlit session opens My credits (a plain link would open a new, signed-out one)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from ledger.service import Ledger
from tests.browser_harness import (
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    app_fixture,
    available_credits,
    browser_fixture,
    heading_1,
    page_fixture,
    send_chat,
    sign_in,
    sign_out_button,
    wait_settled,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

app = app_fixture()
browser = browser_fixture()
page = page_fixture()


def test_the_cap_refusal_links_to_my_credits_in_the_same_session(
    app: AppServer, page: Page
) -> None:
    ledger = Ledger.open(app.env["WORKBENCH_DATABASE_URL"])
    try:
        workspace = ledger.workspace("demo")
        member = ledger.user(MEMBER)
        ledger.set_monthly_cap(workspace.id, member.id, 0)
        sign_in(page, app, MEMBER)
        before = available_credits(page)

        send_chat(page, "Anything at all")
        refusal = page.get_by_test_id("stAlert").filter(has_text="monthly spending cap")
        refusal.wait_for()
        assert "Nothing was charged." in refusal.inner_text()
        page.get_by_role("link", name=re.compile("My credits: balance")).click()

        page.wait_for_url(re.compile(r"/credits$"))
        page.get_by_role("heading", name="My credits", level=1).wait_for()
        wait_settled(page)
        assert heading_1(page) == ["My credits"]
        assert sign_out_button(page).is_visible(), "the link signed the person out"
        assert page.get_by_text("0 of 0").is_visible()  # this month's spending against the cap
        assert available_credits(page) == before
        assert ledger.balance(workspace.account_id).held == 0
    finally:
        ledger.close()
