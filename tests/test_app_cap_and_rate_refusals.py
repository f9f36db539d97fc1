"""A monthly cap or a rate limit in the way: the chat and images pages say so in one plain sentence
with an in-app link to My credits, and nothing is charged, held, sent or saved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import (
    FAKE_CHAT_MODEL,
    IMAGES,
    AppEnv,
    app_env,
    assert_links_to_my_credits,
    assert_no_exception,
    button,
)
from tests.fake_providers import FakeProvider

MESSAGE = "Draft a two-line status update for the team."


def send_chat(env: AppEnv) -> AppTest:
    at = env.signed_in(env.member)
    at.radio(key="chat_model").set_value(FAKE_CHAT_MODEL).run()
    return at.chat_input(key="chat_prompt").set_value(MESSAGE).run()


def generate_image(env: AppEnv) -> AppTest:
    at = env.signed_in(env.member, IMAGES)
    at.text_area(key="img_prompt").set_value("A lighthouse at dusk")
    return button(at, "Generate").click().run()


def assert_refused_with_nothing_done(env: AppEnv, at: AppTest, sentence: str, before: int) -> None:
    assert_no_exception(at)
    [error] = at.error
    assert error.value.startswith(sentence), error.value
    assert "Nothing was charged." in error.value
    assert_links_to_my_credits(at)
    assert env.available() == before
    assert env.held() == 0
    assert env.messages() == [] and env.conversations() == []


@pytest.fixture
def capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as env:
        env.svc.ledger.set_monthly_cap(env.workspace.id, env.member.id, 0)
        yield env


def test_a_spent_cap_refuses_chat(capped: AppEnv) -> None:
    before = capped.available()
    at = send_chat(capped)
    assert_refused_with_nothing_done(
        capped, at, "This would pass your monthly spending cap of 0 credits", before
    )
    assert capped.api_requests() == []
    assert [(u.status, u.error_type) for u in capped.usage_rows()] == [("refused", "CapExceeded")]


def test_a_spent_cap_refuses_images(capped: AppEnv) -> None:
    before = capped.available()
    at = generate_image(capped)
    assert_refused_with_nothing_done(
        capped, at, "This would pass your monthly spending cap of 0 credits", before
    )
    assert [(u.status, u.error_type) for u in capped.usage_rows()] == [("refused", "CapExceeded")]


def test_the_rate_limit_refuses_the_request_past_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> None:
    with app_env(
        tmp_path, monkeypatch, fake=fake_provider, WORKBENCH_RATE_LIMIT_PER_MINUTE="1"
    ) as env:
        first = send_chat(env)
        assert_no_exception(first)
        assert first.error == []
        [answered] = [u for u in env.usage_rows() if u.status == "ok"]
        after_first = env.available()
        messages_after_first = len(env.messages())

        at = env.signed_in(env.member)
        at.radio(key="chat_model").set_value(FAKE_CHAT_MODEL).run()
        at.chat_input(key="chat_prompt").set_value("And one more, please.").run()

        assert_no_exception(at)
        [error] = at.error
        assert error.value.startswith("You are sending requests faster than allowed"), error.value
        assert "Nothing was charged." in error.value
        assert_links_to_my_credits(at)
        assert env.available() == after_first and env.held() == 0
        assert len(env.messages()) == messages_after_first
        assert len(env.api_requests()) == 1  # only the first message reached the provider
        statuses = sorted((u.status, u.error_type or "") for u in env.usage_rows())
        assert statuses == [("ok", ""), ("refused", "RateLimited")]
        assert answered.credits > 0
