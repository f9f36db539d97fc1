"""A chat turn through the gateway: reserve, stream through litellm over HTTP, capture exactly
what the provider reported, and one usage row in the capture's transaction."""

from __future__ import annotations

import pytest

from ledger.pricing import token_cost
from tests.fake_providers import ok, reply_for
from tests.gateway_harness import Harness, ask

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]


@pytest.mark.parametrize("model", MODELS)
def test_a_streamed_turn_is_charged_what_the_provider_reported(
    harness: Harness, model: str
) -> None:
    fake = harness.fake
    fake.program(ok(reply_words=30, prompt_tokens=1200, completion_tokens=400, cached_tokens=200))
    before = harness.available()
    estimate = harness.gateway.estimate_chat(ask("Tell me about tides"), model=model)

    turn = harness.gateway.chat(harness.caller, ask("Tell me about tides"), key="t1", model=model)
    assert turn.hold is not None and turn.hold.amount == estimate.credits
    assert harness.available() == before - estimate.credits  # held before any byte is sent
    assert fake.api_requests() == []
    pieces = list(turn)

    assert len(pieces) > 1, "the reply arrived in pieces, as streamed"
    assert "".join(pieces) == reply_for(fake.requests[-1].body["messages"], 30)
    result = turn.result
    assert result is not None and result.status == "ok"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (1200, 400)
    assert result.usage.cached_tokens == 200
    price = harness.ledger.price(model)
    expected = token_cost(price, 1200, 400)
    assert result.credits == expected
    assert harness.available() == before - expected

    [row] = harness.usage_rows()
    assert (row.status, row.model, row.provider) == ("ok", model, model.split("/", maxsplit=1)[0])
    assert (row.input_tokens, row.output_tokens, row.cached_tokens) == (1200, 400, 200)
    assert row.credits == expected and row.hold_id == turn.hold.id
    assert row.price_version_id == price.version_id
    assert row.usd_cost_nanos is not None and row.usd_cost_nanos > 0
    assert row.latency_ms is not None and row.ttft_ms is not None
    assert row.ttft_ms <= row.latency_ms
    assert row.idempotency_key == "t1"
    assert (row.user_id, row.workspace_id) == (harness.caller.user_id, harness.caller.workspace_id)
    assert row.feature_key == "ai_text_chat" and row.operation_type == "text_chat"
