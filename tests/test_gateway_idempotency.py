"""One idempotency key per user action: the same key never calls the provider twice, a finished
request answers from what it stored, and the same key for a different request is refused."""

from __future__ import annotations

import pytest

from ledger.errors import IdempotencyConflict
from tests.fake_providers import error
from tests.gateway_harness import Harness, ask
from workbench.gateway.errors import ProviderFailed, RequestInProgress

MODEL = "openai/gpt-4o-mini"


def test_a_chat_turn_sent_twice_is_answered_once(harness: Harness) -> None:
    first = harness.gateway.chat(harness.caller, ask("hello"), key="turn-1", model=MODEL)
    text = "".join(first)
    after_first = harness.available()

    again = harness.gateway.chat(harness.caller, ask("hello"), key="turn-1", model=MODEL)

    assert list(again) == []
    assert again.result is not None and again.result.replayed
    assert again.result.status == "ok" and "already answered" in (again.result.message or "")
    assert first.result is not None and again.result.credits == first.result.credits
    assert text
    assert harness.available() == after_first
    assert len(harness.fake.api_requests()) == 1
    assert len(harness.holds()) == 1 and len(harness.usage_rows()) == 1


def test_finished_images_are_returned_from_storage(harness: Harness) -> None:
    kwargs = {"key": "img-1", "model": "openai/dall-e-2", "n": 2, "size": "256x256"}
    first = harness.gateway.generate_images(harness.caller, "a fox", **kwargs)  # type: ignore[arg-type]
    after_first = harness.available()

    again = harness.gateway.generate_images(harness.caller, "a fox", **kwargs)  # type: ignore[arg-type]

    assert again.replayed and again.status == "ok"
    assert [i.read() for i in again.images] == [i.read() for i in first.images]
    assert harness.available() == after_first
    assert len(harness.fake.api_requests()) == 1


def test_a_key_in_flight_is_not_sent_again(harness: Harness) -> None:
    turn = harness.gateway.chat(harness.caller, ask("hello"), key="turn-2", model=MODEL)
    with pytest.raises(RequestInProgress, match="already being answered"):
        harness.gateway.chat(harness.caller, ask("hello"), key="turn-2", model=MODEL)
    "".join(turn)
    assert len(harness.fake.api_requests()) == 1


def test_the_same_key_for_another_prompt_is_a_conflict(harness: Harness) -> None:
    "".join(harness.gateway.chat(harness.caller, ask("hello"), key="turn-3", model=MODEL))
    before = harness.available()
    with pytest.raises(IdempotencyConflict):
        harness.gateway.chat(harness.caller, ask("something else"), key="turn-3", model=MODEL)
    with pytest.raises(IdempotencyConflict):
        harness.gateway.chat(harness.caller, ask("hello"), key="turn-3", model="openai/gpt-4o")
    assert harness.available() == before
    assert len(harness.fake.api_requests()) == 1 and len(harness.usage_rows()) == 1


def test_a_failed_turn_replayed_is_not_sent_again(harness: Harness) -> None:
    harness.fake.program(error(400))
    with pytest.raises(ProviderFailed):
        "".join(harness.gateway.chat(harness.caller, ask("hello"), key="turn-4", model=MODEL))
    again = harness.gateway.chat(harness.caller, ask("hello"), key="turn-4", model=MODEL)
    assert again.result is not None and again.result.replayed
    assert again.result.status == "error" and again.result.credits == 0
    assert len(harness.fake.api_requests()) == 1
