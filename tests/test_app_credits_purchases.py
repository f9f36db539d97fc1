"""My credits' shop (AppTest), with Stripe as the loopback fake driven by the real SDK: without
keys the packs and plans are listed and nothing offers to buy; with keys "Buy" creates a Checkout
Session whose parameters the fake recorded, a rerun or a second click reuses its idempotency key
(one session), only workspace admins subscribe, the plan in force is shown, "Manage subscription"
opens a portal session, a Stripe refusal is one sentence, and the tab that started a checkout
shows the credits once the payment lands."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from tests.app_harness import CREDITS, AppEnv, all_text, assert_no_exception
from tests.billing_app_harness import (
    billing_env,
    checkout_requests,
    link_buttons,
    money_state,
    texts_of,
)
from tests.stripe_fakes import FakeStripe, checkout_completed, event, running_fake_stripe
from tests.stripe_fakes import subscription_event as sub_event
from workbench.billing.service import NOT_CONFIGURED
from workbench.ui.purchases import CHECKOUT_KEY, PendingCheckout

CONTINUE = "Continue to Stripe Checkout"
RETURN = "http://localhost/credits"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeStripe) -> Iterator[AppEnv]:
    with billing_env(tmp_path, monkeypatch, fake) as opened:
        yield opened


@pytest.fixture
def plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with billing_env(tmp_path, monkeypatch) as opened:
        yield opened


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.main.button]


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert_no_exception(at)
    return at


def pending(at: AppTest) -> PendingCheckout:
    found = at.session_state[CHECKOUT_KEY]
    assert isinstance(found, PendingCheckout)
    return found


# --- without Stripe keys --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["member", "admin"])
def test_without_keys_offers_are_listed_and_nothing_offers_to_buy(plain: AppEnv, who: str) -> None:
    at = plain.signed_in(getattr(plain, who), CREDITS)
    assert_no_exception(at)
    assert texts_of(at, "info") == [NOT_CONFIGURED]
    shown = "\n".join(texts_of(at, "markdown"))
    for offer in [*plain.svc.billing.offers("pack"), *plain.svc.billing.offers("plan")]:
        assert f"**{offer.name}**" in shown
    assert not {"Buy", "Subscribe", "Manage subscription"} & set(labels(at))
    assert link_buttons(at) == {}


# --- buying a pack --------------------------------------------------------------------------------


def test_a_member_can_buy_each_pack_but_not_subscribe(env: AppEnv, fake: FakeStripe) -> None:
    at = env.signed_in(env.member, CREDITS)
    assert_no_exception(at)
    assert texts_of(at, "info") == []
    assert labels(at).count("Buy") == len(env.svc.billing.offers("pack"))
    assert "Subscribe" not in labels(at)
    assert "Workspace admins subscribe to a plan and manage it." in texts_of(at, "caption")
    assert fake.requests == []  # showing the page asks Stripe nothing


def test_buy_creates_a_checkout_session_with_everything_fulfilment_needs(
    env: AppEnv, fake: FakeStripe
) -> None:
    before = money_state(env)
    at = click(env.signed_in(env.member, CREDITS), "pack-starter")

    [request] = checkout_requests(fake)
    key = pending(at).key
    ws, user = env.workspace.id, env.member.id
    assert request.idempotency_key == f"checkout-{key}"
    params = request.params
    assert params["mode"] == "payment"
    assert params["line_items"] == [{"price": "price_workbench_starter", "quantity": "1"}]
    expected_metadata = {
        "workspace_id": str(ws),
        "user_id": str(user),
        "offer_kind": "pack",
        "offer_id": "starter",
        "micros": str(credits(10_000)),
    }
    assert params["metadata"] == expected_metadata
    assert params["payment_intent_data"]["metadata"] == expected_metadata
    assert params["client_reference_id"] == f"ws{ws}-u{user}-starter"
    assert params["success_url"] == f"{RETURN}?workspace={ws}&checkout={{CHECKOUT_SESSION_ID}}"
    assert params["cancel_url"] == f"{RETURN}?workspace={ws}&checkout=cancelled"
    [session] = fake.objects("checkout.session")
    assert link_buttons(at) == {CONTINUE: session["url"]}
    assert pending(at).session_id == session["id"]
    assert money_state(env) == before  # nothing is credited until Stripe says it is paid


def test_a_rerun_or_second_click_reuses_the_key_and_the_session(
    env: AppEnv, fake: FakeStripe
) -> None:
    at = click(env.signed_in(env.member, CREDITS), "pack-team")
    first = pending(at)
    at.run()
    at = click(at, "pack-team")
    assert len(checkout_requests(fake)) == 1  # the link is already there: Stripe is not asked
    # The first request's answer lost (the run that made it was interrupted): the next click
    # asks again with the same key, and Stripe answers with the same session.
    at.session_state[CHECKOUT_KEY] = replace(first, session_id=None, url=None)
    at = click(at, "pack-team")
    requests = checkout_requests(fake)
    assert len(requests) == 2
    assert {r.idempotency_key for r in requests} == {f"checkout-{first.key}"}
    assert len(fake.objects("checkout.session")) == 1
    assert pending(at) == first
    assert list(link_buttons(at).values()) == [first.url]


def test_start_over_then_buy_is_a_new_purchase(env: AppEnv, fake: FakeStripe) -> None:
    at = click(env.signed_in(env.member, CREDITS), "pack-starter")
    first = pending(at)
    at = click(at, "checkout_forget")
    assert CHECKOUT_KEY not in at.session_state
    assert link_buttons(at) == {}
    at = click(at, "pack-starter")
    assert pending(at).key != first.key
    assert len(fake.objects("checkout.session")) == 2


def test_a_stripe_refusal_is_one_sentence_and_nothing_is_pending(
    env: AppEnv, fake: FakeStripe
) -> None:
    price = "price_workbench_department"
    fake.add_price(price, unit_amount=20_000, recurring_interval="month")  # not a one-off price
    at = click(env.signed_in(env.member, CREDITS), "pack-department")
    [error] = texts_of(at, "error")
    assert error.startswith("Stripe refused the request:")
    assert "sk_test" not in all_text(at)
    assert link_buttons(at) == {}
    assert fake.objects("checkout.session") == []


def test_the_tab_that_started_a_checkout_shows_the_credits_when_they_land(
    env: AppEnv, fake: FakeStripe
) -> None:
    at = click(env.signed_in(env.member, CREDITS), "pack-starter")
    session_id = pending(at).session_id
    assert session_id is not None
    before = env.available()
    at.run()
    assert "Waiting for Stripe to confirm the payment; this updates by itself." in texts_of(
        at, "caption"
    )
    # The customer pays on Stripe's page; Stripe reports it to the webhook.
    outcome = env.svc.billing.handle_event(checkout_completed(fake.complete_session(session_id)))
    assert outcome.outcome == "granted"
    at.run()  # the watcher's next poll
    assert_no_exception(at)
    assert env.available() == before + credits(10_000)
    assert CHECKOUT_KEY not in at.session_state
    assert "Payment received: 10,000 credits added." in [t.value for t in at.toast]
    assert link_buttons(at) == {}


# --- plans ----------------------------------------------------------------------------------------


def test_an_admin_subscribes_with_a_subscription_checkout(env: AppEnv, fake: FakeStripe) -> None:
    at = env.signed_in(env.admin, CREDITS)
    assert labels(at).count("Subscribe") == len(env.svc.billing.offers("plan"))
    at = click(at, "plan-team-monthly")
    [request] = checkout_requests(fake)
    assert request.params["mode"] == "subscription"
    assert request.params["line_items"][0]["price"] == "price_workbench_team_monthly"
    assert request.params["metadata"]["offer_kind"] == "plan"
    assert request.params["subscription_data"]["metadata"]["offer_id"] == "team-monthly"
    assert request.idempotency_key == f"checkout-{pending(at).key}"
    assert CONTINUE in link_buttons(at)


def subscribe(env: AppEnv, fake: FakeStripe) -> str:
    """The admin subscribes to Team monthly and pays; Stripe's events reach the app."""
    at = click(env.signed_in(env.admin, CREDITS), "plan-team-monthly")
    session = fake.complete_session(pending(at).session_id or "")
    subscription = fake.get(session["subscription"])
    for delivered in (
        checkout_completed(session),
        sub_event("created", subscription),
        event("invoice.paid", fake.get(session["invoice"])),
    ):
        env.svc.billing.handle_event(delivered)
    end = subscription["items"]["data"][0]["current_period_end"]
    return datetime.fromtimestamp(end, UTC).strftime("%Y-%m-%d")


def test_the_plan_in_force_and_manage_subscription(env: AppEnv, fake: FakeStripe) -> None:
    renews = subscribe(env, fake)
    at = env.signed_in(env.admin, CREDITS)
    assert f"Current plan: **Team monthly**, active, renews on {renews}." in texts_of(
        at, "markdown"
    )
    assert "Subscribe" not in labels(at)  # a second plan is changed in the portal instead
    at = click(at, "manage_subscription")
    [request] = fake.requests_to("POST", "/v1/billing_portal/sessions")
    [customer] = fake.objects("customer")
    return_url = f"{RETURN}?workspace={env.workspace.id}"
    assert request.params == {"customer": customer["id"], "return_url": return_url}
    [portal] = fake.objects("billing_portal.session")
    assert link_buttons(at) == {"Open the billing portal": portal["url"]}


def test_a_member_sees_the_plan_but_cannot_subscribe_or_manage_it(
    env: AppEnv, fake: FakeStripe
) -> None:
    subscribe(env, fake)
    requests_before = len(fake.requests)
    at = env.signed_in(env.member, CREDITS)
    assert any(t.startswith("Current plan: **Team monthly**") for t in texts_of(at, "markdown"))
    assert not {"Subscribe", "Manage subscription"} & set(labels(at))
    assert len(fake.requests) == requests_before
