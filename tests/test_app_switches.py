"""Switches set in the database, on the pages: a feature switched off is a warning before anything
is typed and a one-sentence refusal (with the operator's message) that charges, holds and sends
nothing; a model switched off is not offered in the picker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_harness import (
    FAKE_CHAT_MODEL,
    IMAGES,
    AppEnv,
    all_text,
    app_env,
    assert_no_exception,
    button,
    loose_code,
)
from tests.fake_providers import FakeProvider

MAINTENANCE = "Paused for maintenance until 14:00 UTC."
MESSAGE = "Please summarise the quarterly report."


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def test_chat_switched_off_is_a_warning_and_a_refusal_that_charges_nothing(env: AppEnv) -> None:
    env.svc.ledger.set_feature("ai_text_chat", False, MAINTENANCE, actor_user_id=env.operator.id)
    before = env.svc.ledger.balance(env.account_id)
    sentence = f"Chat is switched off for now. {MAINTENANCE}"

    at = env.signed_in(env.member)
    assert_no_exception(at)
    assert [w.value for w in at.warning] == [sentence]

    at.chat_input(key="chat_prompt").set_value(MESSAGE).run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [sentence]
    assert loose_code(at) == [MESSAGE]  # the unsent message, to copy
    assert "Traceback" not in all_text(at)

    after = env.svc.ledger.balance(env.account_id)
    assert (after.balance, after.held) == (before.balance, before.held)
    assert env.holds() == [] and env.api_requests() == []
    assert env.conversations() == [] and env.messages() == []
    [usage] = env.usage_rows()
    assert (usage.status, usage.error_type, usage.hold_id, usage.credits) == (
        "refused",
        "FeatureDisabled",
        None,
        0,
    )
    assert "submission" not in at.session_state


def test_images_switched_off_is_refused_with_the_message(env: AppEnv) -> None:
    env.svc.ledger.set_feature("ai_image_generation", False, MAINTENANCE, actor_user_id=None)
    before = env.available()
    at = env.signed_in(env.member, IMAGES)
    sentence = f"Image generation is switched off for now. {MAINTENANCE}"
    assert [w.value for w in at.warning] == [sentence]
    at.text_area(key="img_prompt").set_value("A lighthouse at dusk")
    at = button(at, "Generate").click().run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [sentence]
    assert env.available() == before and env.holds() == []
    [usage] = env.usage_rows()
    assert (usage.status, usage.error_type) == ("refused", "FeatureDisabled")

    # Chat is a separate switch: still on.
    chat = env.signed_in(env.member)
    assert chat.warning == []


def test_a_model_switched_off_is_not_offered(env: AppEnv) -> None:
    assert FAKE_CHAT_MODEL in [m.id for m in env.svc.gateway.models("chat")]
    env.svc.ledger.set_model_enabled(FAKE_CHAT_MODEL, False, env.operator.id, reason="budget")
    # The app's process builds its services on its first run, so it reads the switch at once
    # (a process already running honours it within 5 s: tests/test_gateway_switches.py).
    at = env.signed_in(env.member)
    assert_no_exception(at)
    options = at.radio(key="chat_model").options  # the models' names, as shown
    assert "GPT-4o mini" not in options
    assert options == ["Demo chat (offline)", "GPT-4o"]
