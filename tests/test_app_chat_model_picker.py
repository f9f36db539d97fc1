"""The chat page's model picker: every offered model shows, under its name, its description, its
context size and its price per million tokens in credits, as the catalogue and the price table
(the database's current price) have them; a model without a price says it cannot be used."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import parse_credits
from tests.app_harness import CHAT, AppEnv, app_env, assert_no_exception, loose_code
from tests.chat_page_harness import MODEL_KEY, popover
from tests.fake_providers import FakeProvider
from tests.gateway_harness import UNPRICED, catalogue_with_unpriced_model
from workbench.gateway.catalogue import ModelEntry

CONTEXT = re.compile(r"(?P<number>[\d,]+)(?P<thousands>k?)-token context")
UNPRICED_SENTENCE = "That model has no price yet, so it cannot be used. Ask an admin to price it."
PRICE = re.compile(r"(?P<input>[\d,.]+) / (?P<output>[\d,.]+) credits per million tokens in / out")


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    catalogue = catalogue_with_unpriced_model(tmp_path)
    with app_env(
        tmp_path, monkeypatch, fake=fake_provider, WORKBENCH_MODEL_CATALOGUE=str(catalogue)
    ) as opened:
        yield opened


def captions(at: AppTest) -> dict[str, str]:
    """Model name as offered -> the caption under it."""
    picker = at.radio(key=MODEL_KEY)
    return dict(zip(picker.options, picker.proto.captions, strict=True))


def context_shown(caption: str) -> int:
    found = CONTEXT.search(caption)
    assert found, caption
    number = int(found["number"].replace(",", ""))
    return number * 1000 if found["thousands"] else number


def test_every_offered_model_shows_its_description_context_and_price(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    assert_no_exception(at)
    shown = captions(at)
    offered: list[ModelEntry] = env.svc.gateway.models("chat")
    assert list(shown) == [entry.name for entry in offered]
    # The fake OpenAI key is set: its models are offered beside the demo, and no Anthropic one.
    assert {"Demo chat (offline)", "GPT-4o mini", "GPT-4o"} <= set(shown)
    assert not any("Claude" in name for name in shown)

    for entry in offered:
        if entry.id == UNPRICED:
            continue
        caption = shown[entry.name]
        assert caption.startswith(entry.description + " · "), caption
        assert context_shown(caption) == entry.context_window, caption
        price = env.svc.ledger.price(entry.price)
        found = PRICE.search(caption)
        assert found, caption
        assert parse_credits(found["input"]) == price.input_per_mtok, caption
        assert parse_credits(found["output"]) == price.output_per_mtok, caption
        assert "not priced" not in caption


def test_a_model_without_a_price_says_it_cannot_be_used(env: AppEnv) -> None:
    entry = env.svc.gateway.catalogue.get(UNPRICED)
    assert entry is not None
    at = env.signed_in(env.member)
    caption = captions(at)[entry.name]
    assert "not priced yet: cannot be used" in caption
    assert PRICE.search(caption) is None
    assert context_shown(caption) == entry.context_window

    # Picking it anyway: the page says so before anything is typed, and a message is refused
    # with nothing held, charged or sent.
    at.radio(key=MODEL_KEY).set_value(UNPRICED).run()
    assert_no_exception(at)
    said = [str(c.value) for c in at.caption]
    assert UNPRICED_SENTENCE in said, said
    assert not any(text.startswith("Next message: about") for text in said)
    before = env.svc.ledger.balance(env.account_id)
    at.chat_input(key="chat_prompt").set_value("Hello?").run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [UNPRICED_SENTENCE]
    assert loose_code(at) == ["Hello?"]
    assert env.svc.ledger.balance(env.account_id) == before
    assert env.holds() == []
    assert env.api_requests() == []
    assert env.conversations() == []
    [usage] = env.usage_rows()
    assert (usage.status, usage.error_type, usage.credits, usage.hold_id) == (
        "refused",
        "UnpricedModel",
        0,
        None,
    )


def test_the_picker_label_names_the_model_and_a_system_prompt(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    at.radio(key=MODEL_KEY).set_value("openai/gpt-4o").run()
    assert popover(at, "chat_settings").proto.popover.label == "GPT-4o"
    at.text_area(key="system_prompt").set_value("Answer in French.").run()
    assert popover(at, "chat_settings").proto.popover.label == "GPT-4o · system prompt"


def test_with_every_chat_model_switched_off_the_page_says_so(env: AppEnv) -> None:
    """No model to pick: one sentence, no error box, nothing sent or charged."""
    for model in env.svc.gateway.models("chat"):
        env.svc.ledger.set_model_enabled(model.id, False, env.operator.id, reason="budget")
    at = env.signed_in(env.member, CHAT)
    assert_no_exception(at)
    assert at.error == []
    assert any("No chat model is on offer" in w.value for w in at.warning), [
        w.value for w in at.warning
    ]
    assert env.usage_rows() == [] and env.holds() == []
