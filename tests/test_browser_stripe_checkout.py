"""Buying credits in a real browser (headless Chromium; the app as ``make run`` starts it, with
Stripe pointed at the loopback fake): sign in, click "Buy", continue to the loopback "Loopback
checkout" page in a new tab (Pay is not pressed there), deliver Stripe's signed
``checkout.session.completed`` to the app's ``/webhooks/stripe``, and see My credits, in the
first tab and without a reload, show the payment and the balance risen by the pack's credits.

The sidebar's own balance timer is set to its quietest (600 s), so what updates the page is My
credits' wait for the payment, not the sidebar."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from ledger.amounts import credits, parse_credits
from tests.billing_app_harness import WEBHOOK_SECRET, stripe_settings
from tests.browser_harness import (
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    available_credits,
    browser_fixture,
    page_fixture,
    sign_in,
    start_app,
    wait_settled,
)
from tests.stripe_fakes import FakeStripe, checkout_completed, running_fake_stripe, signed
from workbench.billing.offers import load_file
from workbench.config import DATA

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

browser = browser_fixture()
page = page_fixture()
STARTER = credits(10_000)
WAIT_S = 30.0


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripe]:
    """The loopback Stripe, selling the shipped packs at their list prices."""
    with running_fake_stripe() as running:
        for pack in load_file(DATA / "credit_packs.toml", "pack"):
            assert pack.stripe_price is not None
            running.add_price(pack.stripe_price, unit_amount=int(Decimal(pack.price_usd) * 100))
        yield running


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, fake: FakeStripe) -> Iterator[AppServer]:
    """One app for the module, its environment given the Stripe settings."""
    server = start_app(tmp_path_factory.mktemp("browser-stripe"), extra_env=stripe_settings(fake))
    try:
        yield server
    finally:
        server.stop()


def main_available(page: Page) -> int:
    """My credits' own "Available" metric (not the sidebar's), in micro-credits."""
    metric = page.get_by_test_id("stMain").get_by_test_id("stMetric").filter(has_text="Available")
    return parse_credits(metric.first.get_by_test_id("stMetricValue").inner_text().strip())


def wait_until(check: Any, timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return bool(check())


def test_buy_then_the_webhook_credits_the_page_without_a_reload(
    app: AppServer, page: Page, fake: FakeStripe
) -> None:
    sign_in(page, app, MEMBER, "credits")
    before, sidebar_before = main_available(page), available_credits(page)
    page.evaluate("window.__sameDocument = true")  # gone if the tab ever reloads

    page.locator(".st-key-pack-starter").get_by_role("button", name="Buy").click()
    go_on = page.get_by_role("link", name=re.compile("Continue to Stripe Checkout"))
    go_on.wait_for()
    with page.context.expect_page() as opened:
        go_on.click()
    checkout = opened.value
    checkout.wait_for_load_state()
    checkout.get_by_role("heading", name="Loopback checkout").wait_for()
    session_id = checkout.url.rsplit("/pay/", 1)[1]
    session = fake.get(session_id)
    assert session["metadata"]["offer_id"] == "starter"
    assert session["success_url"].startswith(f"{app.url}/credits?workspace=")
    assert main_available(page) == before  # nothing yet: Pay was not pressed

    # Stripe takes the payment and tells the app through its webhook (only the webhook credits).
    body, headers = signed(checkout_completed(fake.complete_session(session_id)), WEBHOOK_SECRET)
    answer = httpx.post(f"{app.url}/webhooks/stripe", content=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "granted"

    assert wait_until(lambda: main_available(page) == before + STARTER), main_available(page)
    wait_settled(page)
    assert available_credits(page) == sidebar_before + STARTER
    assert page.get_by_role("link", name=re.compile("Continue to Stripe Checkout")).count() == 0
    assert page.evaluate("window.__sameDocument === true")  # no reload happened
    checkout.close()


def test_pay_returns_to_my_credits_which_credits_the_payment_itself(
    app: AppServer, page: Page, fake: FakeStripe
) -> None:
    """No webhook this time: Stripe's success URL brings the buyer back to My credits (in the
    checkout's tab), whose own fulfilment asks Stripe for the session and credits it once."""
    sign_in(page, app, MEMBER, "credits")
    before = main_available(page)
    page.locator(".st-key-pack-team").get_by_role("button", name="Buy").click()
    go_on = page.get_by_role("link", name=re.compile("Continue to Stripe Checkout"))
    go_on.wait_for()
    with page.context.expect_page() as opened:
        go_on.click()
    back = opened.value
    back.get_by_role("button", name="Pay").click()
    back.wait_for_url(re.compile(r"/credits\?workspace=\d+&checkout=cs_"))
    back.get_by_text("Payment received: 55,000 credits added. Thank you!").wait_for()
    assert main_available(back) == before + credits(55_000)
    # The first tab, still watching, sees the same payment land.
    assert wait_until(lambda: main_available(page) == before + credits(55_000))
    back.close()
