"""Too few credits: the chat page says so in one plain sentence linking to My credits, shows the
unsent message to copy, charges nothing, holds nothing and sends nothing to the provider."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from tests.app_harness import (
    FAKE_CHAT_MODEL,
    AppEnv,
    app_env,
    assert_links_to_my_credits,
    assert_no_exception,
    loose_code,
)
from tests.fake_providers import FakeProvider

MESSAGE = "Please summarise the quarterly report in three bullet points."


# (micro-credits in the workspace, model): with one credit, GPT-4o mini's estimate (about 0.74
# credits for a short prompt and a 1,024-token reply) would fit, so the one-credit case asks
# GPT-4o (about 12.3).
CASES = [(0, FAKE_CHAT_MODEL), (credits(1), "openai/gpt-4o")]


@dataclass(frozen=True)
class Poor:
    env: AppEnv
    model: str

    def chat_page(self) -> AppTest:
        at = self.env.signed_in(self.env.member)
        at.radio(key="chat_model").set_value(self.model)
        return at.run()


@pytest.fixture(params=CASES, ids=["no-credits-gpt-4o-mini", "one-credit-gpt-4o"])
def case(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_provider: FakeProvider,
) -> Iterator[Poor]:
    micros, model = request.param
    with app_env(tmp_path, monkeypatch, micros=micros, fake=fake_provider) as opened:
        yield Poor(opened, model)


def test_not_enough_credits_is_one_sentence_and_nothing_happens(case: Poor) -> None:
    poor = case.env
    before = poor.svc.ledger.balance(poor.account_id)
    at = case.chat_page().chat_input(key="chat_prompt").set_value(MESSAGE).run()
    assert_no_exception(at)

    [error] = at.error
    assert "Not enough credits" in error.value
    if poor.available() == credits(1):  # amounts in credits, with their decimals
        assert re.search(r"needs about 12\.\d\d and your workspace has 1 available", error.value)
    assert_links_to_my_credits(at)
    assert "Nothing was charged" in error.value
    assert "Traceback" not in error.value
    # The unsent message is offered back to copy.
    assert loose_code(at) == [MESSAGE]

    # Nothing charged, nothing held, nothing sent, nothing saved.
    after = poor.svc.ledger.balance(poor.account_id)
    assert (after.balance, after.held) == (before.balance, before.held)
    assert poor.holds() == []
    assert poor.api_requests() == []
    assert poor.conversations() == []
    assert poor.messages() == []
    # The refusal is on record as a usage row without a hold.
    [usage] = poor.usage_rows()
    assert (usage.status, usage.error_type, usage.hold_id, usage.credits) == (
        "refused",
        "InsufficientCredits",
        None,
        0,
    )
    # The submission is dropped: the next run does not try again.
    assert "submission" not in at.session_state
    at.run()
    assert at.error == []
    assert poor.api_requests() == []
    assert len(poor.usage_rows()) == 1


def test_before_anything_is_typed_the_caption_says_the_next_message_cannot_be_paid(
    case: Poor,
) -> None:
    """At zero (or too few) credits the caption above the message box says what the next
    message needs and that it would not be sent, and links to My credits: before typing."""
    poor = case.env
    at = case.chat_page()
    assert_no_exception(at)
    [said] = [c.value for c in at.caption if "next message needs about" in c.value]
    has = "0 credits" if poor.available() == 0 else "1 credit"
    assert re.fullmatch(
        rf"The next message needs about [\d.]+ credits; this workspace has {has} available, "
        "so it would not be sent.",
        said,
    ), said
    assert not any(c.value.startswith("Next message: about ") for c in at.caption)
    assert_links_to_my_credits(at)
    assert at.error == []
    # Saying so costs nothing and records nothing.
    assert poor.holds() == []
    assert poor.usage_rows() == []
    assert poor.api_requests() == []
