"""Auto top-up after a charge: ``after_charge.top_up_soon`` returns at once and looks in the
background (one worker; a workspace already queued is not queued twice), and a chat reply or an
image charged through the app triggers it, so a workspace below its threshold buys its pack
off-session with the card saved at its checkout (Stripe as the loopback fake, real SDK)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.amounts import credits
from tests.app_harness import CHAT, IMAGES, AppEnv, assert_no_exception, button
from tests.billing_app_harness import billing_env
from tests.stripe_fakes import FakeStripe, checkout_completed, running_fake_stripe
from workbench.billing import after_charge
from workbench.billing.auto_top_up import AutoTopUp

PACK = credits(10_000)  # Starter
THRESHOLD = credits(20_000)


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeStripe) -> Iterator[AppEnv]:
    with billing_env(tmp_path, monkeypatch, fake, micros=0) as opened:
        yield opened


def card_saved_and_auto_top_up_on(env: AppEnv, fake: FakeStripe) -> None:
    """A pack bought by card (saved for top-ups), then auto top-up below 20,000 credits."""
    made = env.svc.billing.start_checkout(
        workspace_id=env.workspace.id,
        user_id=env.admin.id,
        kind="pack",
        offer_id="starter",
        return_url="http://localhost/credits",
        key="first-purchase",
    )
    env.svc.billing.handle_event(checkout_completed(fake.complete_session(made.session_id)))
    env.svc.billing.save_auto_top_up(
        AutoTopUp(env.workspace.id, True, THRESHOLD, "starter", 3), actor_user_id=env.admin.id
    )


def off_session_payments(fake: FakeStripe) -> list[object]:
    return [
        r
        for r in fake.requests_to("POST", "/v1/payment_intents")
        if r.params.get("off_session") == "true" and r.status == 200
    ]


def drain() -> None:
    """Wait for everything queued so far (one worker: a no-op queued now runs after it)."""
    after_charge._POOL.submit(lambda: None).result(timeout=60)


def test_top_up_soon_returns_at_once_and_coalesces(env: AppEnv, fake: FakeStripe) -> None:
    card_saved_and_auto_top_up_on(env, fake)
    gate = threading.Event()
    busy = after_charge._POOL.submit(gate.wait, 60)  # the worker is busy elsewhere
    try:
        first = after_charge.top_up_soon(env.svc.billing, env.workspace.id)
        again = after_charge.top_up_soon(env.svc.billing, env.workspace.id)
        assert first is not None and not first.done()  # returned without waiting for Stripe
        assert again is None  # already queued: one look serves both charges
        assert off_session_payments(fake) == []
    finally:
        gate.set()
    busy.result(timeout=60)
    attempt = first.result(timeout=60)
    assert attempt is not None and attempt.status == "succeeded"
    assert len(off_session_payments(fake)) == 1
    assert env.available() == 2 * PACK


def test_without_settings_stripe_is_not_asked(env: AppEnv, fake: FakeStripe) -> None:
    assert after_charge.top_up_soon(env.svc.billing, env.workspace.id) is not None
    drain()
    assert fake.requests == []  # no auto top-up set: not even a customer lookup


def test_without_stripe_nothing_is_queued(env: AppEnv) -> None:
    unconfigured = replace(env.svc.billing, api=None)
    assert after_charge.top_up_soon(unconfigured, env.workspace.id) is None


def test_a_chat_reply_below_the_threshold_tops_up(env: AppEnv, fake: FakeStripe) -> None:
    card_saved_and_auto_top_up_on(env, fake)
    at = env.signed_in(env.member, CHAT)
    at.chat_input(key="chat_prompt").set_value("Plan a team offsite in three steps").run()
    assert_no_exception(at)
    drain()
    assert len(off_session_payments(fake)) == 1
    spent = PACK - (env.available() - PACK)
    assert 0 < spent < credits(1)  # one demo reply's fraction of a credit, then a whole pack


def test_an_image_below_the_threshold_tops_up(env: AppEnv, fake: FakeStripe) -> None:
    card_saved_and_auto_top_up_on(env, fake)
    at = env.signed_in(env.member, IMAGES)
    at.text_area(key="img_prompt").set_value("a lighthouse at dusk")
    at = button(at, "Generate").click().run()
    assert_no_exception(at)
    drain()
    assert len(off_session_payments(fake)) == 1
    assert env.available() > PACK  # the pack arrived on top of what the image left
